"""The ingest pipeline: verify → parse → map → validate → dedupe → one SQS message per customer.

``Ingest.handle`` runs it for one request; each step returns an ``Outcome`` or raises the ``Rejection`` it found,
and ``nxbridge.ingest.answers`` turns either into the answer. Form endpoints go through ``nxbridge.forms.gate``
for what only browsers need (preflights, fill tokens, spam screening, pages).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import BotoCoreError, ClientError

from nxbridge.aws.clients import INGEST, INGEST_QUEUE, client
from nxbridge.aws.sqs import MAX_MESSAGE_BYTES
from nxbridge.contract import Customer, CustomerValidationError
from nxbridge.endpoints import (
    ConfigError,
    Endpoint,
    EndpointStore,
    FileEndpoints,
    FileSecrets,
    FormEndpoint,
    MissingSecret,
    ParameterEndpoints,
    SecretsManagerSecrets,
    SecretStore,
    SettingsError,
)
from nxbridge.envelope import Envelope, build_envelope, utcnow
from nxbridge.identity import customer_identity
from nxbridge.ingest.answers import rejected, respond
from nxbridge.ingest.ledger import DeliveryLedger, LedgerBusy, LedgerUnavailable
from nxbridge.ingest.queue import CustomerQueue, QueueUnavailable
from nxbridge.observability import NAMESPACE, SERVICE, logger, metrics
from nxbridge.outcomes import Accepted, Duplicate, Outcome, Ping, WebhookResponse
from nxbridge.record import Record
from nxbridge.rejections import (
    ConfigUnavailable,
    DedupeUnavailable,
    DeliveryInProgress,
    FieldIssue,
    MalformedBody,
    MethodNotAllowed,
    NotQueued,
    PayloadTooLarge,
    Rejection,
    Unauthorized,
    UnknownEndpoint,
    UnsupportedMediaType,
    ValidationFailed,
)
from nxbridge.sources import (
    Candidate,
    DroppedContact,
    EventFacts,
    Ignored,
    InvalidPayload,
    MalformedPayload,
    Source,
    WebhookRequest,
    build_customer,
    source_for,
)

if TYPE_CHECKING:
    from nxbridge.config import IngestSettings
    from nxbridge.forms.gate import FormGate
    from nxbridge.ingest.privacy import DlqPurger, PrivacyDesk

MAX_CUSTOMERS_PER_WEBHOOK = 100
# Form endpoints also answer CORS preflights (OPTIONS) and fill-token requests (GET .../token); neither is a webhook.
FORM_METHODS = frozenset({"OPTIONS", "GET"})
_RECEIVED_METRICS = {"OPTIONS": "FormPreflights", "GET": "FillTokenRequests"}
# Every accepted webhook queues an envelope: the model (deferred where it is defined) is built with this module.
build_envelope()


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
        privacy: PrivacyDesk | None = None,
        privacy_factory: Callable[[], PrivacyDesk] | None = None,
    ) -> None:
        """``privacy`` acts on privacy notices; unset, ``privacy_factory`` builds it for the first notice (default: a
        desk with no watermark table and no purger)."""
        self._endpoints = endpoints
        self._secrets = secrets
        self._queue = queue
        self._ledger = ledger
        # Privacy notices are rare: the desk (and the watermarks' DynamoDB machinery) loads with the first one.
        self._privacy = privacy
        self._privacy_factory = privacy_factory
        self._max_body_bytes = max_body_bytes
        self._clock = clock
        self._form_gate: FormGate | None = None

    @classmethod
    def from_settings(cls, settings: IngestSettings, *, purger: DlqPurger | None = None) -> Ingest:
        """Build the clients and stores that the settings name (boto3 honours AWS_ENDPOINT_URL: the local stack).

        ``purger`` carries out the DLQ part of privacy requests; by default the ReplayFunction that REPLAY_FUNCTION
        names (tests and the local stack run one in-process).
        """
        endpoints: EndpointStore
        if settings.endpoints_parameter:
            endpoints = ParameterEndpoints(
                client("ssm", INGEST),
                settings.endpoints_parameter,
                max_age=settings.cache_seconds,
                nxcloud_type=settings.nxcloud_type,
            )
        elif settings.endpoints_file:
            endpoints = FileEndpoints(settings.endpoints_file, nxcloud_type=settings.nxcloud_type)
        else:
            raise SettingsError("set ENDPOINTS_PARAMETER (AWS) or ENDPOINTS_FILE (local)")
        secrets: SecretStore
        if settings.webhook_secrets_arn:
            secrets = SecretsManagerSecrets(
                client("secretsmanager", INGEST),
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
                client("dynamodb", INGEST),
                settings.idempotency_table,
                ttl_seconds=settings.idempotency_ttl_seconds,
            )
        queue = CustomerQueue(client("sqs", INGEST_QUEUE), settings.queue_url)
        return cls(
            endpoints=endpoints,
            secrets=secrets,
            queue=queue,
            ledger=ledger,
            max_body_bytes=settings.max_body_bytes,
            privacy_factory=lambda: _privacy_desk(settings, purger),
        )

    def register_lambda_context(self, context: Any) -> None:
        """Let idempotency records in progress expire with the invocation (a crashed attempt must not block)."""
        if self._ledger is not None:
            self._ledger.config.register_lambda_context(context)

    def handle(self, request: WebhookRequest) -> WebhookResponse:
        """Answer one webhook request."""
        method = request.method.upper()
        metrics.add_metric(name=_RECEIVED_METRICS.get(method, "WebhooksReceived"), unit=MetricUnit.Count, value=1)
        try:
            if method != "POST" and method not in FORM_METHODS:
                raise MethodNotAllowed
            endpoint = self._endpoint(request.endpoint)
            if isinstance(endpoint.config, FormEndpoint):
                return self._form(request, endpoint, method)
            if method != "POST":
                raise MethodNotAllowed
            return respond(request, self._run(request, endpoint))
        except Rejection as rejection:
            return rejected(request, rejection)

    def _endpoint(self, name: str) -> Endpoint:
        try:
            endpoint = self._endpoints.get(name)
        except ConfigError as exc:
            logger.error("endpoint configuration unavailable", extra={"detail": str(exc)})
            raise ConfigUnavailable from exc
        if endpoint is None:
            raise UnknownEndpoint(name)
        return endpoint

    def _form(self, request: WebhookRequest, endpoint: Endpoint, method: str) -> WebhookResponse:
        # Preflights and fill tokens are answered by the gate (their rejections as plain JSON, by ``handle``); a
        # post's answer, whatever it is, is reshaped for the browser that sent it.
        gate = self._forms()
        if method == "OPTIONS":
            return gate.preflight(request, endpoint)
        if method == "GET":
            return gate.fill_token(request, endpoint)
        try:
            outcome = self._run(request, endpoint)
        except Rejection as rejection:
            return gate.answer(request, endpoint, rejected(request, rejection), rejection)
        return gate.answer(request, endpoint, respond(request, outcome))

    def _privacy_desk(self) -> PrivacyDesk:
        if self._privacy is None:
            if self._privacy_factory is not None:
                self._privacy = self._privacy_factory()
            else:
                from nxbridge.ingest.privacy import PrivacyDesk  # noqa: PLC0415 (loaded with the first notice)

                self._privacy = PrivacyDesk()
        return self._privacy

    def _forms(self) -> FormGate:
        if self._form_gate is None:
            from nxbridge.forms.gate import FormGate  # noqa: PLC0415 (only functions that serve forms pay for it)

            self._form_gate = FormGate(self._secrets)
        return self._form_gate

    def _run(self, request: WebhookRequest, endpoint: Endpoint) -> Outcome:
        """The pipeline for one post: read → verify → parse → map → validate → dedupe → queue."""
        if request.body is None:
            raise MalformedBody
        limit = self._max_body_bytes
        if isinstance(endpoint.config, FormEndpoint) and endpoint.config.form.max_body_bytes is not None:
            limit = min(limit, endpoint.config.form.max_body_bytes)
        if len(request.body) > limit:
            raise PayloadTooLarge(limit)
        source = source_for(endpoint.kind)
        if source.is_ping(request):
            logger.info("ping acknowledged", extra={"endpoint": endpoint.name, "kind": endpoint.kind})
            return Ping()
        if not source.accepts(request.media_type):
            raise UnsupportedMediaType(endpoint.kind, source.media_types)
        self._verify(request, endpoint, source)
        payload = read_payload(request, endpoint, source)
        if isinstance(endpoint.config, FormEndpoint):
            held = self._forms().screen(request, endpoint, payload)
            if held is not None:
                return held
        try:
            notice = source.privacy_notice(request, payload, endpoint.config)
        except MalformedPayload as exc:
            raise MalformedBody(str(exc)) from None
        if notice is not None:
            return self._privacy_desk().handle(endpoint, notice, request.request_id)
        built = customer_messages(request, endpoint, source, payload)
        if isinstance(built, Ignored):
            return built
        delivery_id = built.delivery_id
        outcome = self._enqueue(request, endpoint, delivery_id, built.messages, source.dedupe_key(request, delivery_id))
        if isinstance(outcome, Accepted):
            _count_dropped(endpoint, delivery_id, built.dropped)
        return outcome

    def _verify(self, request: WebhookRequest, endpoint: Endpoint, source: Source) -> None:
        try:
            verified = self._verified(request, endpoint, source)
        except ConfigError as exc:
            logger.error("signing secret unavailable", extra={"endpoint": endpoint.name, "detail": str(exc)})
            raise ConfigUnavailable from exc
        if not verified:
            raise Unauthorized

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
            raise MissingSecret(f"no webhook secret named {name!r}")
        return fresh != secrets and source.verify(request, fresh, endpoint.config, now)

    def _enqueue(
        self,
        request: WebhookRequest,
        endpoint: Endpoint,
        delivery_id: str | None,
        messages: list[str],
        dedupe_key: str | None,
    ) -> Accepted | Duplicate:
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
            if exc.refused:
                reason = "SQS refuses this customer's message"
                issues = [FieldIssue(field="customer", reason=reason, index=i) for i in sorted(exc.refused)]
                raise ValidationFailed(issues) from None
            raise NotQueued from None
        except LedgerBusy:
            raise DeliveryInProgress from None
        except LedgerUnavailable as exc:
            logger.error("idempotency table unavailable", extra={**context, "detail": str(exc)})
            raise DedupeUnavailable from None
        if result.get("attempt") != outcome["attempt"]:
            metrics.add_metric(name="Duplicates", unit=MetricUnit.Count, value=1)
            logger.info("duplicate delivery", extra={**context, "first_request_id": result.get("requestId")})
            return Duplicate()
        metrics.add_metric(name="CustomersAccepted", unit=MetricUnit.Count, value=len(messages))
        logger.info("webhook accepted", extra={**context, "accepted": len(messages)})
        return Accepted(len(messages))

    def _send_tracked(
        self,
        ledger: DeliveryLedger,
        endpoint: Endpoint,
        dedupe_key: str,
        messages: list[str],
        outcome: dict[str, Any],
    ) -> dict[str, Any]:
        # A failed attempt leaves progress only when SQS took some of its messages and not others: a delivery of
        # one message is queued whole or not at all, so it has none to read (one DynamoDB read fewer per webhook).
        already = ledger.sent(endpoint.name, dedupe_key) if len(messages) > 1 else frozenset()
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


class CustomerMessages(Record):
    """The queue messages of one request's customers, its delivery id, and the values left out of them."""

    delivery_id: str | None
    messages: list[str]
    dropped: list[tuple[int, DroppedContact]]


def read_payload(request: WebhookRequest, endpoint: Endpoint, source: Source) -> Any:
    """The decoded body of a request whose signature (if any) holds; MalformedBody when it is not the kind's format."""
    try:
        return source.parse(request, endpoint.config)
    except MalformedPayload as exc:
        raise MalformedBody(str(exc)) from None
    except InvalidPayload as exc:
        raise ValidationFailed([FieldIssue.of(p) for p in exc.problems]) from None


def customer_messages(
    request: WebhookRequest, endpoint: Endpoint, source: Source, payload: Any
) -> CustomerMessages | Ignored:
    """Map, validate, normalize and envelope a payload's customers: the one path of webhooks, forms and imports.

    Raises the Rejection (MalformedBody, ValidationFailed) that says why the payload cannot be queued.
    """
    try:
        found = source.candidates(payload, request, endpoint.config)
    except MalformedPayload as exc:
        raise MalformedBody(str(exc)) from None
    except InvalidPayload as exc:
        raise ValidationFailed([FieldIssue.of(p) for p in exc.problems]) from None
    delivery_id = source.delivery_id(request, payload, endpoint.config)
    if delivery_id is not None and not _is_text(delivery_id):
        # A JSON escape such as "\udcff" decodes to a lone surrogate, which no queue message can carry.
        raise MalformedBody("the delivery id is not valid Unicode text")
    if isinstance(found, Ignored):
        extra = {"endpoint": endpoint.name, "kind": endpoint.kind, "reason": found.reason}
        logger.info("delivery ignored", extra={**extra, "delivery_id": delivery_id})
        return found
    facts = source.event_facts(request, payload, endpoint.config)
    messages, dropped = _messages(request, endpoint, source, found, delivery_id, facts=facts)
    return CustomerMessages(delivery_id, messages, dropped)


def _messages(
    request: WebhookRequest,
    endpoint: Endpoint,
    source: Source,
    found: list[Candidate],
    delivery_id: str | None,
    *,
    facts: EventFacts,
) -> tuple[list[str], list[tuple[int, DroppedContact]]]:
    """The queue messages of valid customers (and the contacts left out); ValidationFailed when one is not."""
    if not found:
        raise ValidationFailed([FieldIssue(field="customers", reason="the payload holds no customer")])
    if len(found) > MAX_CUSTOMERS_PER_WEBHOOK:
        reason = f"at most {MAX_CUSTOMERS_PER_WEBHOOK} customers per webhook"
        raise ValidationFailed([FieldIssue(field="customers", reason=reason)])
    customers: list[Customer] = []
    dropped: list[tuple[int, DroppedContact]] = []
    problems: list[FieldIssue] = []
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
            problems.extend(FieldIssue.from_error(e, index) for e in exc.errors)
            continue
        customers.append(built.customer)
        dropped.extend((index, contact) for contact in built.dropped)
    if problems:
        raise ValidationFailed(problems)
    # Never later than the receive time: a sender's clock running ahead must not block the customer's next updates.
    event_at = min(facts.at, request.received_at) if facts.at is not None else request.received_at
    # The source's customer id names the customer of a one-customer delivery only.
    customer_id = facts.customer_id if len(customers) == 1 else None
    messages = [
        Envelope(
            endpoint=endpoint.name,
            kind=endpoint.kind,
            delivery_id=delivery_id,
            received_at=request.received_at,
            trace_id=request.request_id,
            customer=customer,
            event_at=event_at,
            identity=customer_identity(endpoint.name, customer_id, customer),
            event=facts.event,
        ).to_message()
        for customer in customers
    ]
    oversized = [
        FieldIssue(field="customer", reason="is larger than an SQS message allows (256 KiB)", index=i)
        for i, body in enumerate(messages)
        if len(body.encode("utf-8")) > MAX_MESSAGE_BYTES
    ]
    if oversized:
        raise ValidationFailed(oversized)
    return messages, dropped


def _count_dropped(endpoint: Endpoint, delivery_id: str | None, dropped: Sequence[tuple[int, DroppedContact]]) -> None:
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


def _is_text(value: str) -> bool:
    """Whether ``value`` is encodable as UTF-8 (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _NoSecrets:
    """Used when neither WEBHOOK_SECRETS_ARN nor WEBHOOK_SECRETS_FILE is set: only unsigned forms can work."""

    def get(self, name: str, *, refresh: bool = False) -> tuple[str, ...] | None:
        return None


def _privacy_desk(settings: IngestSettings, purger: DlqPurger | None) -> PrivacyDesk:
    """The desk the settings name: the watermark table and, unless ``purger`` is given, the ReplayFunction."""
    from nxbridge.ingest.privacy import PrivacyDesk, ReplayFunctionPurger  # noqa: PLC0415 (the first notice's)
    from nxbridge.ordering import Watermarks  # noqa: PLC0415

    if purger is None and settings.replay_function:
        purger = ReplayFunctionPurger(client("lambda", INGEST), settings.replay_function)
    return PrivacyDesk(
        Watermarks(client("dynamodb", INGEST), settings.ordering_table) if settings.ordering_table else None,
        purger,
    )
