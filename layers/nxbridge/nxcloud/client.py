"""The NXCloud batch_create client: serialize once, sign those bytes, send those bytes, classify the answer.

Every call returns a typed outcome; no exception escapes unclassified.
"""

import enum
import functools
import time
from collections.abc import Callable

import requests
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError
from requests.adapters import HTTPAdapter

from nxbridge import facts
from nxbridge.contract.batch import RESPONSE, BatchCreateRequest, BatchCreateResult, FailItem, ResultFields
from nxbridge.nxcloud.signing import signed_headers
from nxbridge.record import Record

PATH = facts.NXCLOUD_PATH
DEFAULT_BASE_URL = facts.NXCLOUD_DEFAULT_BASE_URL


class NXCloudCredentials(BaseModel):
    """What the NXCloud secret holds. tenant_id/app_key may instead come from configuration."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    access_key: str = Field(validation_alias=AliasChoices("accessKey", "access_key"), min_length=1)
    access_secret: SecretStr = Field(validation_alias=AliasChoices("accessSecret", "access_secret"))
    tenant_id: int | None = Field(default=None, validation_alias=AliasChoices("tenantId", "tenant_id"))
    app_key: str | None = Field(default=None, validation_alias=AliasChoices("appKey", "app_key"))


class FailureClass(enum.StrEnum):
    """What a whole-request failure means for the records in it (docs/nxcloud-contract.md failure table)."""

    RETRYABLE = "retryable"  # transport, 429/5xx, non-JSON, 1004: try again later, re-signed
    RECORD = "record"  # 12148, 1002, unknown codes: some record is at fault, isolate it
    AUTH = "auth"  # 1003, 1005: credentials wrong or rotated; refresh once, then configuration
    CONFIG = "config"  # 1001: the bridge is misconfigured; no record is at fault


# NXCloud's common error codes and the batch_create page's own 12148.
CODE_CLASSES: dict[int, FailureClass] = {
    1001: FailureClass.CONFIG,
    1002: FailureClass.RECORD,
    1003: FailureClass.AUTH,
    1004: FailureClass.RETRYABLE,
    1005: FailureClass.AUTH,
    12148: FailureClass.RECORD,
}


class Delivered(Record):
    """code 0: ``result`` holds per-index successItems and failItems.

    ``answer`` is the model, or the answer's fields as ``parse_response`` reads them (see ``RESPONSE``); the drain
    reads ``stored`` and ``refused``, and the model is built from the fields only if ``result`` is asked for.
    """

    answer: BatchCreateResult | ResultFields
    trace_id: str | None
    latency_ms: float

    @functools.cached_property
    def result(self) -> BatchCreateResult:
        """The answer's ``data`` as the model."""
        answer = self.answer
        return answer if isinstance(answer, BatchCreateResult) else BatchCreateResult.model_validate(answer)

    def stored(self) -> dict[int, int]:
        """customerId by index of the successItems (an index answered twice: the last one)."""
        answer = self.answer
        if isinstance(answer, BatchCreateResult):
            return {item.index: item.customerId for item in answer.successItems}
        return {item["index"]: item["customerId"] for item in answer.get("successItems") or ()}

    def refused(self) -> dict[int, FailItem]:
        """The failItems by index (an index answered twice: the last one)."""
        answer = self.answer
        items = answer.failItems if isinstance(answer, BatchCreateResult) else answer.get("failItems") or ()
        return {item.index: item for item in items}


class RequestFailed(Record):
    """Nothing was stored (or it is unknown): the whole request failed, classified."""

    failure: FailureClass
    code: int | None
    message: str
    trace_id: str | None = None
    http_status: int | None = None
    latency_ms: float = 0.0

    @property
    def error_code(self) -> str:
        """A machine-readable code: NXCloud's number, or ``http_<status>`` / ``transport`` for the wire."""
        if self.code is not None:
            return str(self.code)
        if self.http_status is not None:
            return f"http_{self.http_status}"
        return "transport"


Outcome = Delivered | RequestFailed


def classify_code(code: int) -> FailureClass:
    """Class of a non-zero NXCloud code; unknown codes are treated as record-attributable (isolate, DLQ)."""
    return CODE_CLASSES.get(code, FailureClass.RECORD)


class NXCloudClient:
    """One configured session to NXCloud; ``batch_create`` is its only call."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        session: requests.Session | None = None,
        connect_timeout: float = facts.NXCLOUD_CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = facts.NXCLOUD_READ_TIMEOUT_SECONDS,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + PATH
        self.timeout = (connect_timeout, read_timeout)
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        if session is None:
            session = requests.Session()
            # Retries are the drain's decision (it knows the Lambda deadline); the adapter never retries.
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=4, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self.session = session

    def batch_create(self, request: BatchCreateRequest, credentials: NXCloudCredentials) -> Outcome:
        """Send one batch and classify the answer."""
        return self.send(request.to_body(), credentials)

    def send(self, body: bytes, credentials: NXCloudCredentials) -> Outcome:
        """Sign ``body`` with a fresh ts and POST exactly those bytes."""
        headers = signed_headers(
            credentials.access_key, credentials.access_secret.get_secret_value(), body, self._clock_ms()
        )
        headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            response = self.session.post(self.url, data=body, headers=headers, timeout=self.timeout)
        except requests.Timeout:
            return RequestFailed(FailureClass.RETRYABLE, None, "timeout", latency_ms=_since(started))
        except requests.RequestException as exc:
            return RequestFailed(
                FailureClass.RETRYABLE,
                None,
                f"connection error: {type(exc).__name__}",
                latency_ms=_since(started),
            )
        latency = _since(started)
        return parse_response(response.status_code, response.content, latency)


def parse_response(status: int, content: bytes, latency_ms: float = 0.0) -> Outcome:
    """Classify an HTTP answer from batch_create."""
    if status == 429 or status >= 500:
        return RequestFailed(FailureClass.RETRYABLE, None, f"HTTP {status}", http_status=status, latency_ms=latency_ms)
    try:
        # The answer's fields, read by the same rules as BatchCreateResponse, without a model per successItem.
        parsed = RESPONSE.validate_json(content)
    except ValidationError:
        # A non-JSON answer is transient per the contract, except a client error other than 408, which
        # means the URL or a gateway in front of NXCloud is wrong: retrying cannot fix that.
        kind = FailureClass.CONFIG if 400 <= status < 500 and status != 408 else FailureClass.RETRYABLE
        return RequestFailed(
            kind,
            None,
            f"HTTP {status} with a body that is not NXCloud JSON",
            http_status=status,
            latency_ms=latency_ms,
        )
    code, trace_id, data = parsed["code"], parsed.get("traceId"), parsed.get("data")
    if code == 0:
        if data is None:
            return RequestFailed(FailureClass.RETRYABLE, 0, "code 0 without data", trace_id, status, latency_ms)
        return Delivered(data, trace_id, latency_ms)
    return RequestFailed(classify_code(code), code, parsed.get("message") or "", trace_id, status, latency_ms)


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
