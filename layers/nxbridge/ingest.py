"""Ingest orchestration: verify → parse → map → validate → dedupe → one SQS message per customer → answer.

The logic takes its stores and clients as arguments (``Ingest(...)``) and knows nothing of Lambda: the handler
turns the API Gateway event into a ``WebhookRequest`` and the ``WebhookResponse`` back into a proxy result.

Guarantees: bad input is answered 4xx and queues nothing; a webhook is answered 2xx only once every one of its
customers is queued (else 503, so that the sender retries). A retried delivery whose first attempt queued part
of its customers before SQS failed queues only the rest: the sent indexes are recorded beside the idempotency
record (deliveries without an id are not tracked; the drain's upsert makes a resent customer harmless).

Form endpoints also answer CORS preflights and fill-token requests, screen posts for spam, and answer browsers
with a redirect or a page (``nxbridge.forms``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import BotoCoreError, ClientError

from nxbridge.contract import Customer, CustomerValidationError
from nxbridge.endpoints import (
    ConfigError,
    Endpoint,
    EndpointStore,
    FileEndpoints,
    FileSecrets,
    FormEndpoint,
    ParameterEndpoints,
    SecretsManagerSecrets,
    SecretStore,
)
from nxbridge.envelope import Envelope, utcnow
from nxbridge.observability import NAMESPACE, SERVICE, logger, metrics
from nxbridge.sources import (
    Candidate,
    DroppedContact,
    Ignored,
    InvalidPayload,
    MalformedPayload,
    Problem,
    Source,
    WebhookRequest,
    build_customer,
    source_for,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

    from nxbridge.config import IngestSettings
    from nxbridge.forms import FormGate
    from nxbridge.sources.form_spam import Spam

__all__ = ["CustomerQueue", "DeliveryLedger", "Ingest", "QueueUnavailable", "WebhookRequest", "WebhookResponse"]

# SQS limits: 10 entries and 256 KiB per SendMessageBatch, 256 KiB per message (the classic limit, which every
# queue and every emulator accepts).
BATCH_ENTRIES = 10
MAX_MESSAGE_BYTES = 256 * 1024
MAX_CUSTOMERS_PER_WEBHOOK = 100
IDEMPOTENCY_KEY_PREFIX = "nxbridge-ingest"
PROGRESS_KEY_PREFIX = "nxbridge-ingest-progress"
# Form endpoints also answer CORS preflights (OPTIONS) and fill-token requests (GET .../token); neither is a webhook.
FORM_METHODS = frozenset({"OPTIONS", "GET"})
_RECEIVED_METRICS = {"OPTIONS": "FormPreflights", "GET": "FillTokenRequests"}


@dataclass(frozen=True)
class WebhookResponse:
    """What to answer: status, JSON body, extra headers; ``text`` (a page, or empty) is sent instead of the JSON."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    text: str | None = None


class QueueUnavailable(Exception):
    """SQS did not take every message; ``sent`` holds the indexes that did get queued."""

    def __init__(self, sent: frozenset[int]) -> None:
        super().__init__(f"SQS unavailable after queueing {len(sent)} message(s)")
        self.sent = sent


class DeliveryInProgress(Exception):
    """Another invocation is processing the same delivery right now."""


class LedgerUnavailable(Exception):
    """The idempotency table cannot be used."""


class CustomerQueue:
    """SendMessageBatch in chunks of up to 10 entries, retrying only the entries that failed."""

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        *,
        attempts: int = 3,
        backoff_seconds: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._sleep = sleep

    def send(self, messages: Sequence[tuple[int, str]]) -> None:
        """Queue every ``(index, body)``; QueueUnavailable (with what was queued) if SQS does not take them all."""
        sent: set[int] = set()
        for chunk in _chunks(messages):
            pending = dict(chunk)
            for attempt in range(self._attempts):
                if attempt:
                    self._sleep(self._backoff * 2 ** (attempt - 1))
                try:
                    answer = self._sqs.send_message_batch(
                        QueueUrl=self._queue_url,
                        Entries=[{"Id": str(index), "MessageBody": body} for index, body in pending.items()],
                    )
                except (ClientError, BotoCoreError) as exc:
                    logger.warning("SendMessageBatch failed", extra={"error": type(exc).__name__, "attempt": attempt})
                    continue
                for entry in answer.get("Successful", []):
                    index = int(entry["Id"])
                    pending.pop(index, None)
                    sent.add(index)
                failed = answer.get("Failed", [])
                if failed:
                    codes = sorted({f.get("Code", "") for f in failed})
                    logger.warning("SQS refused entries", extra={"count": len(failed), "codes": codes})
                if not pending:
                    break
            if pending:
                raise QueueUnavailable(frozenset(sent))


def _chunks(messages: Sequence[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    size = 0
    for index, body in messages:
        length = len(body.encode("utf-8"))
        if chunk and (len(chunk) == BATCH_ENTRIES or size + length > MAX_MESSAGE_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append((index, body))
        size += length
    if chunk:
        yield chunk


class DeliveryLedger:
    """Delivery dedupe (Powertools idempotency on DynamoDB) and the progress of a partly queued delivery."""

    def __init__(self, dynamodb: DynamoDBClient, table: str, *, ttl_seconds: int) -> None:
        from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415 (only with a table)
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        self._dynamodb = dynamodb
        self._table = table
        self._ttl = ttl_seconds
        self.config: IdempotencyConfig = IdempotencyConfig(expires_after_seconds=ttl_seconds)
        self._once = idempotent_function(
            data_keyword_argument="delivery",
            persistence_store=DynamoDBPersistenceLayer(table_name=table, boto3_client=dynamodb),
            config=self.config,
            key_prefix=IDEMPOTENCY_KEY_PREFIX,
        )(_run_work)

    def once(self, endpoint: str, delivery_id: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run ``work`` unless this delivery already completed; then return the first run's result.

        An exception from ``work`` removes the record, so that the sender's retry runs again.
        """
        from aws_lambda_powertools.utilities.idempotency.exceptions import (  # noqa: PLC0415
            IdempotencyAlreadyInProgressError,
            IdempotencyInconsistentStateError,
            IdempotencyPersistenceLayerError,
        )

        try:
            result: dict[str, Any] = self._once(delivery={"endpoint": endpoint, "delivery_id": delivery_id}, work=work)
        except IdempotencyAlreadyInProgressError:
            raise DeliveryInProgress from None
        except (IdempotencyPersistenceLayerError, IdempotencyInconsistentStateError) as exc:
            raise LedgerUnavailable(type(exc).__name__) from exc
        return result

    def _progress_key(self, endpoint: str, delivery_id: str) -> dict[str, Any]:
        digest = hashlib.sha256(f"{endpoint}\0{delivery_id}".encode()).hexdigest()
        return {"id": {"S": f"{PROGRESS_KEY_PREFIX}#{digest}"}}

    def sent(self, endpoint: str, delivery_id: str) -> frozenset[int]:
        """Indexes an earlier, failed attempt of this delivery already queued."""
        try:
            item = self._dynamodb.get_item(
                TableName=self._table, Key=self._progress_key(endpoint, delivery_id), ConsistentRead=True
            ).get("Item", {})
        except (ClientError, BotoCoreError) as exc:
            raise LedgerUnavailable(type(exc).__name__) from exc
        return frozenset(int(n) for n in item.get("sent", {}).get("NS", []))

    def record_sent(self, endpoint: str, delivery_id: str, indexes: frozenset[int]) -> None:
        """Remember what a failing attempt queued, for as long as dedupe records live."""
        if not indexes:
            return
        self._dynamodb.update_item(
            TableName=self._table,
            Key=self._progress_key(endpoint, delivery_id),
            UpdateExpression="ADD sent :sent SET expiration = :expiration",
            ExpressionAttributeValues={
                ":sent": {"NS": [str(i) for i in sorted(indexes)]},
                ":expiration": {"N": str(int(time.time()) + self._ttl)},
            },
        )

    def forget(self, endpoint: str, delivery_id: str) -> None:
        """Drop the progress record once the delivery is complete (if that fails, its TTL removes it)."""
        try:
            self._dynamodb.delete_item(TableName=self._table, Key=self._progress_key(endpoint, delivery_id))
        except (ClientError, BotoCoreError) as exc:
            logger.warning("cannot drop the progress record", extra={"error": type(exc).__name__})


def _is_text(value: str) -> bool:
    """Whether ``value`` is encodable as UTF-8 (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _run_work(*, delivery: dict[str, str], work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    # Powertools hashes ``delivery`` into the idempotency key; ``work`` is the actual enqueue.
    return work()


class _NoSecrets:
    """Used when neither WEBHOOK_SECRETS_ARN nor WEBHOOK_SECRETS_FILE is set: only unsigned forms can work."""

    def get(self, name: str, *, refresh: bool = False) -> tuple[str, ...] | None:
        return None


class Ingest:
    """Answers webhook requests; the one entry point is ``handle``."""

    def __init__(
        self,
        *,
        endpoints: EndpointStore,
        secrets: SecretStore,
        queue: CustomerQueue,
        ledger: DeliveryLedger | None = None,
        max_body_bytes: int = 1_048_576,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._endpoints = endpoints
        self._secrets = secrets
        self._queue = queue
        self._ledger = ledger
        self._max_body_bytes = max_body_bytes
        self._clock = clock
        self._form_gate: FormGate | None = None

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> Ingest:
        """Build the clients and stores that the settings name (boto3 honours AWS_ENDPOINT_URL: the local stack)."""
        import boto3  # noqa: PLC0415 (built on the first invocation, not at import)
        from botocore.config import Config  # noqa: PLC0415

        # Providers give up after 5-10 s: fail fast and answer 503 rather than time out. SQS calls are not retried
        # by botocore because CustomerQueue retries them itself (only the entries that failed).
        config = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 2})
        sqs_config = config.merge(Config(retries={"mode": "standard", "max_attempts": 1}))
        endpoints: EndpointStore
        if settings.endpoints_parameter:
            endpoints = ParameterEndpoints(
                boto3.client("ssm", config=config), settings.endpoints_parameter, max_age=settings.cache_seconds
            )
        elif settings.endpoints_file:
            endpoints = FileEndpoints(settings.endpoints_file)
        else:
            raise ConfigError("set ENDPOINTS_PARAMETER (AWS) or ENDPOINTS_FILE (local)")
        secrets: SecretStore
        if settings.webhook_secrets_arn:
            secrets = SecretsManagerSecrets(
                boto3.client("secretsmanager", config=config),
                settings.webhook_secrets_arn,
                max_age=settings.cache_seconds,
            )
        elif settings.webhook_secrets_file:
            secrets = FileSecrets(settings.webhook_secrets_file)
        else:
            secrets = _NoSecrets()
        ledger = None
        if settings.idempotency_table:
            ledger = DeliveryLedger(
                boto3.client("dynamodb", config=config),
                settings.idempotency_table,
                ttl_seconds=settings.idempotency_ttl_seconds,
            )
        queue = CustomerQueue(boto3.client("sqs", config=sqs_config), settings.queue_url)
        return cls(
            endpoints=endpoints, secrets=secrets, queue=queue, ledger=ledger, max_body_bytes=settings.max_body_bytes
        )

    def register_lambda_context(self, context: Any) -> None:
        """Let idempotency records in progress expire with the invocation (a crashed attempt must not block)."""
        if self._ledger is not None:
            self._ledger.config.register_lambda_context(context)

    def handle(self, request: WebhookRequest) -> WebhookResponse:
        """Answer one webhook request."""
        method = request.method.upper()
        metrics.add_metric(name=_RECEIVED_METRICS.get(method, "WebhooksReceived"), unit=MetricUnit.Count, value=1)
        if method != "POST" and method not in FORM_METHODS:
            return self._reject(request, 405, "method_not_allowed", "use POST", headers={"allow": "POST"})
        try:
            endpoint = self._endpoints.get(request.endpoint)
        except ConfigError as exc:
            logger.error("endpoint configuration unavailable", extra={"detail": str(exc)})
            return self._reject(request, 503, "config_unavailable", "the bridge is not configured; retry later")
        if endpoint is None:
            return self._reject(request, 404, "unknown_endpoint", f"no endpoint named {request.endpoint!r}")
        if isinstance(endpoint.config, FormEndpoint):
            return self._form(request, endpoint)
        if method != "POST":
            return self._reject(request, 405, "method_not_allowed", "use POST", headers={"allow": "POST"})
        return self._post(request, endpoint)

    def _forms(self) -> FormGate:
        if self._form_gate is None:
            from nxbridge.forms import FormGate  # noqa: PLC0415 (only functions that serve forms pay for it)

            self._form_gate = FormGate(self._secrets)
        return self._form_gate

    def _form(self, request: WebhookRequest, endpoint: Endpoint) -> WebhookResponse:
        forms = self._forms()
        method = request.method.upper()
        if method == "OPTIONS":
            preflight = forms.preflight(request, endpoint)
            if preflight is None:
                message = "this origin may not post to this endpoint"
                return self._reject(request, 403, "origin_not_allowed", message, headers={"vary": "Origin"})
            return preflight
        if method == "GET":
            try:
                token = forms.fill_token(request, endpoint)
            except ConfigError as exc:
                return self._no_fill_key(request, endpoint, exc)
            if token is None:
                return self._reject(request, 404, "no_fill_token", "this endpoint does not check the fill time")
            return token
        return forms.answer(request, endpoint, self._post(request, endpoint))

    def _post(self, request: WebhookRequest, endpoint: Endpoint) -> WebhookResponse:
        if request.body is None:
            return self._reject(request, 400, "malformed_body", "the body could not be decoded")
        limit = self._max_body_bytes
        if isinstance(endpoint.config, FormEndpoint) and endpoint.config.form.max_body_bytes is not None:
            limit = min(limit, endpoint.config.form.max_body_bytes)
        if len(request.body) > limit:
            return self._reject(request, 413, "payload_too_large", f"the body exceeds {limit} bytes")
        source = source_for(endpoint.kind)
        if source.is_ping(request):
            logger.info("ping acknowledged", extra={"endpoint": endpoint.name, "kind": endpoint.kind})
            return WebhookResponse(200, {"ping": True, "requestId": request.request_id})
        if not source.accepts(request.media_type):
            return self._reject(
                request, 415, "unsupported_media_type", f"{endpoint.kind} endpoints accept {sorted(source.media_types)}"
            )
        return self._authenticated(request, endpoint, source)

    def _authenticated(self, request: WebhookRequest, endpoint: Endpoint, source: Source) -> WebhookResponse:
        try:
            if not self._verified(request, endpoint, source):
                return self._reject(request, 401, "unauthorized", "missing or invalid signature")
        except ConfigError as exc:
            logger.error("signing secret unavailable", extra={"endpoint": endpoint.name, "detail": str(exc)})
            return self._reject(request, 503, "config_unavailable", "the bridge is not configured; retry later")
        try:
            payload = source.parse(request, endpoint.config)
            if isinstance(endpoint.config, FormEndpoint):
                spam = self._forms().screen(request, endpoint, payload)
                if spam is not None:
                    return self._spam(request, spam)
            found = source.candidates(payload, request, endpoint.config)
        except MalformedPayload as exc:
            return self._reject(request, 400, "malformed_body", str(exc))
        except InvalidPayload as exc:
            return self._invalid(request, exc.problems)
        except ConfigError as exc:
            return self._no_fill_key(request, endpoint, exc)
        delivery_id = source.delivery_id(request, payload, endpoint.config)
        if delivery_id is not None and not _is_text(delivery_id):
            # A JSON escape such as "\udcff" decodes to a lone surrogate, which no queue message can carry.
            return self._reject(request, 400, "malformed_body", "the delivery id is not valid Unicode text")
        if isinstance(found, Ignored):
            logger.info(
                "delivery ignored",
                extra={
                    "endpoint": endpoint.name,
                    "kind": endpoint.kind,
                    "reason": found.reason,
                    "delivery_id": delivery_id,
                },
            )
            return WebhookResponse(200, {"accepted": 0, "ignored": found.reason, "requestId": request.request_id})
        return self._accept(request, endpoint, source, found, delivery_id)

    def _verified(self, request: WebhookRequest, endpoint: Endpoint, source: Source) -> bool:
        name = endpoint.secret_name
        if name is None:
            return True
        now = self._clock()
        secrets = self._secrets.get(name)
        if secrets is not None and source.verify(request, secrets, endpoint.config, now):
            return True
        # A rotation may have happened after the cached read: look once more, bypassing the cache.
        fresh = self._secrets.get(name, refresh=True)
        if fresh is None:
            raise ConfigError(f"no webhook secret named {name!r}")
        return fresh != secrets and source.verify(request, fresh, endpoint.config, now)

    def _accept(
        self,
        request: WebhookRequest,
        endpoint: Endpoint,
        source: Source,
        found: list[Candidate],
        delivery_id: str | None,
    ) -> WebhookResponse:
        if not found:
            return self._invalid(request, [Problem(field="customers", reason="the payload holds no customer")])
        if len(found) > MAX_CUSTOMERS_PER_WEBHOOK:
            reason = f"at most {MAX_CUSTOMERS_PER_WEBHOOK} customers per webhook"
            return self._invalid(request, [Problem(field="customers", reason=reason)])
        customers: list[Customer] = []
        dropped: list[tuple[int, DroppedContact]] = []
        problems: list[Problem] = []
        for index, candidate in enumerate(found):
            try:
                built = build_customer(
                    candidate,
                    endpoint.config,
                    trim_text=source.trims_text,
                    normalize_phones=source.normalizes_phones,
                    drop_unusable=source.drops_unusable_contacts,
                )
            except CustomerValidationError as exc:
                problems.extend(Problem(e.field, e.reason, index, e.value) for e in exc.errors)
                continue
            customers.append(built.customer)
            dropped.extend((index, contact) for contact in built.dropped)
        if problems:
            return self._invalid(request, problems)
        messages = [
            Envelope(
                endpoint=endpoint.name,
                kind=endpoint.kind,
                delivery_id=delivery_id,
                received_at=request.received_at,
                trace_id=request.request_id,
                customer=customer,
            ).to_message()
            for customer in customers
        ]
        oversized = [
            Problem(field="customer", reason="is larger than an SQS message allows (256 KiB)", index=i)
            for i, body in enumerate(messages)
            if len(body.encode("utf-8")) > MAX_MESSAGE_BYTES
        ]
        if oversized:
            return self._invalid(request, oversized)
        answer = self._enqueue(request, endpoint, delivery_id, messages, source.dedupe_key(request, delivery_id))
        if answer.status == 202:
            self._count_dropped(endpoint, delivery_id, dropped)
        return answer

    def _count_dropped(
        self, endpoint: Endpoint, delivery_id: str | None, dropped: Sequence[tuple[int, DroppedContact]]
    ) -> None:
        # Only names and reasons: the dropped value is PII.
        for index, contact in dropped:
            logger.warning(
                "contact dropped" if contact.is_contact else "field dropped",
                extra={
                    "endpoint": endpoint.name,
                    "delivery_id": delivery_id,
                    "index": index,
                    "field": contact.field,
                    "reason": contact.reason,
                },
            )
            with single_metric(name=contact.metric, unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
                metric.add_dimension(name="service", value=SERVICE)
                metric.add_dimension(name="reason", value=contact.reason)

    def _enqueue(
        self,
        request: WebhookRequest,
        endpoint: Endpoint,
        delivery_id: str | None,
        messages: list[str],
        dedupe_key: str | None,
    ) -> WebhookResponse:
        context = {"endpoint": endpoint.name, "kind": endpoint.kind, "delivery_id": delivery_id}
        # Tells this attempt's result from a stored one (request ids need not differ: a replayed event reuses its own).
        outcome = {"accepted": len(messages), "requestId": request.request_id, "attempt": uuid.uuid4().hex}
        ledger = self._ledger if dedupe_key else None
        try:
            if ledger is None or dedupe_key is None:
                self._queue.send(list(enumerate(messages)))
                result = outcome
            else:
                result = ledger.once(
                    endpoint.name,
                    dedupe_key,
                    lambda: self._send_tracked(ledger, endpoint, dedupe_key, messages, outcome),
                )
        except QueueUnavailable as exc:
            logger.error("queueing failed", extra={**context, "queued": len(exc.sent), "customers": len(messages)})
            return self._reject(request, 503, "queue_unavailable", "the queue is unavailable; retry later")
        except DeliveryInProgress:
            return self._reject(request, 409, "delivery_in_progress", "this delivery is being processed; retry later")
        except LedgerUnavailable as exc:
            logger.error("idempotency table unavailable", extra={**context, "detail": str(exc)})
            return self._reject(request, 503, "dedupe_unavailable", "the bridge cannot check duplicates; retry later")
        if result.get("attempt") != outcome["attempt"]:
            metrics.add_metric(name="Duplicates", unit=MetricUnit.Count, value=1)
            logger.info("duplicate delivery", extra={**context, "first_request_id": result.get("requestId")})
            return WebhookResponse(200, {"duplicate": True, "requestId": request.request_id})
        metrics.add_metric(name="CustomersAccepted", unit=MetricUnit.Count, value=len(messages))
        logger.info("webhook accepted", extra={**context, "accepted": len(messages)})
        return WebhookResponse(202, {"accepted": len(messages), "requestId": request.request_id})

    def _send_tracked(
        self,
        ledger: DeliveryLedger,
        endpoint: Endpoint,
        dedupe_key: str,
        messages: list[str],
        outcome: dict[str, Any],
    ) -> dict[str, Any]:
        already = ledger.sent(endpoint.name, dedupe_key)
        try:
            self._queue.send([(i, body) for i, body in enumerate(messages) if i not in already])
        except QueueUnavailable as exc:
            try:
                ledger.record_sent(endpoint.name, dedupe_key, exc.sent)
            except (ClientError, BotoCoreError) as record_error:
                logger.error("cannot record queueing progress", extra={"error": type(record_error).__name__})
            raise
        if already:
            logger.info("completed a partly queued delivery", extra={"skipped": len(already)})
            ledger.forget(endpoint.name, dedupe_key)
        return outcome

    def _no_fill_key(self, request: WebhookRequest, endpoint: Endpoint, exc: ConfigError) -> WebhookResponse:
        logger.error("fill-token key unavailable", extra={"endpoint": endpoint.name, "detail": str(exc)})
        return self._reject(request, 503, "config_unavailable", "the bridge is not configured; retry later")

    def _spam(self, request: WebhookRequest, spam: Spam) -> WebhookResponse:
        # A bot that filled the honeypot is told what a person is told; nothing is queued.
        if spam.silent:
            self._count_rejection(request, 202, spam.reason)
            return WebhookResponse(202, {"accepted": 1, "requestId": request.request_id})
        # Every fill-time failure gets the same answer (a bot learns nothing); a person reloads and sends again.
        message = "the form was sent too early or too late, or without its fill token; reload it and send it again"
        return self._reject(request, 422, "fill_time_rejected", message, reason=spam.reason)

    def _invalid(self, request: WebhookRequest, problems: Sequence[Problem]) -> WebhookResponse:
        shown = [p.to_dict() for p in problems]
        logger.info(
            "customers refused",
            extra={"errors": [{k: v for k, v in p.items() if k != "value"} for p in shown]},
        )
        return self._reject(
            request, 422, "validation_failed", "one or more customers are invalid", extra={"errors": shown}
        )

    def _reject(
        self,
        request: WebhookRequest,
        status: int,
        code: str,
        message: str,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        reason: str | None = None,
    ) -> WebhookResponse:
        """A JSON error answer, counted in WebhooksRejected by ``reason`` (default: the error ``code``)."""
        self._count_rejection(request, status, reason or code)
        body = {"error": code, "message": message, **(extra or {}), "requestId": request.request_id}
        return WebhookResponse(status, body, headers or {})

    def _count_rejection(self, request: WebhookRequest, status: int, reason: str) -> None:
        with single_metric(name="WebhooksRejected", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
            metric.add_dimension(name="service", value=SERVICE)
            metric.add_dimension(name="reason", value=reason)
        logger.warning("webhook rejected", extra={"endpoint": request.endpoint, "status": status, "reason": reason})
