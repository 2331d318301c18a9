"""Why the ingest refuses a request, as one typed hierarchy: each case carries its HTTP status and error code.

The step that finds a problem raises its ``Rejection``; ``nxbridge.ingest.answers`` turns it into the JSON answer
``{"error": code, "message": ..., "requestId": ...}`` (plus ``errors`` for per-field problems) and counts it in
the WebhooksRejected metric by ``reason`` (the code, unless the case says more, e.g. which fill-time check
failed). Form endpoints choose what a person sees by the rejection's class (``nxbridge.forms.answers``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import ClassVar

from nxbridge.contract import FieldError
from nxbridge.sources import Problem


class FieldIssue(Problem):
    """A ``Problem`` with the contract's error code (``FieldError.code``: ``missing``, ``string_too_long``, ...).

    The code is for callers that branch (form pages); the JSON answer shows only the problem itself.
    """

    code: str | None = None

    @classmethod
    def of(cls, problem: Problem) -> FieldIssue:
        """A source's problem (a payload-level one: it has no contract code)."""
        return cls(problem.field, problem.reason, problem.index, problem.value)

    @classmethod
    def from_error(cls, error: FieldError, index: int) -> FieldIssue:
        """A contract error of the customer at ``index``."""
        return cls(error.field, error.reason, index, error.value, error.code)


class Rejection(Exception):
    """A request refused: HTTP ``status``, error ``code``, a message the sender may read, the metric ``reason``."""

    status: ClassVar[int]
    code: ClassVar[str]
    default_message: ClassVar[str] = ""
    default_headers: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        message: str | None = None,
        *,
        reason: str | None = None,
        headers: Mapping[str, str] | None = None,
        problems: Sequence[FieldIssue] = (),
    ) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)
        self.reason: str = reason or self.code
        self.headers: dict[str, str] = dict(self.default_headers if headers is None else headers)
        self.problems: tuple[FieldIssue, ...] = tuple(problems)


class RetryLater(Rejection):
    """The bridge cannot take the request now (nothing is wrong with it): the sender retries."""


class MalformedBody(Rejection):
    """The body cannot be read as the kind's format, or carries a delivery id that is not text."""

    status = 400
    code = "malformed_body"
    default_message = "the body could not be decoded"


class Unauthorized(Rejection):
    """The signature (or a form's secret header) is missing or does not match any current secret."""

    status = 401
    code = "unauthorized"
    default_message = "missing or invalid signature"


class OriginNotAllowed(Rejection):
    """A CORS preflight from an origin the form endpoint does not list."""

    status = 403
    code = "origin_not_allowed"
    default_message = "this origin may not post to this endpoint"
    default_headers = {"vary": "Origin"}


class UnknownEndpoint(Rejection):
    """No endpoint of that name is configured."""

    status = 404
    code = "unknown_endpoint"

    def __init__(self, name: str) -> None:
        super().__init__(f"no endpoint named {name!r}")


class NoFillToken(Rejection):
    """A fill token asked of a form endpoint that checks no fill time."""

    status = 404
    code = "no_fill_token"
    default_message = "this endpoint does not check the fill time"


class MethodNotAllowed(Rejection):
    """Webhooks are posted; only form endpoints also answer OPTIONS and GET."""

    status = 405
    code = "method_not_allowed"
    default_message = "use POST"
    default_headers = {"allow": "POST"}


class DeliveryInProgress(RetryLater):
    """Another invocation is processing the same delivery right now."""

    status = 409
    code = "delivery_in_progress"
    default_message = "this delivery is being processed; retry later"


class PayloadTooLarge(Rejection):
    """The body is over the function's (or the form endpoint's) limit."""

    status = 413
    code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body exceeds {limit} bytes")


class UnsupportedMediaType(Rejection):
    """A content type the kind cannot read."""

    status = 415
    code = "unsupported_media_type"

    def __init__(self, kind: str, media_types: Collection[str]) -> None:
        super().__init__(f"{kind} endpoints accept {sorted(media_types)}")


class ValidationFailed(Rejection):
    """The body is readable but yields no valid customers; ``problems`` says field by field why."""

    status = 422
    code = "validation_failed"
    default_message = "one or more customers are invalid"

    def __init__(self, problems: Sequence[FieldIssue]) -> None:
        super().__init__(problems=problems)


class FillTimeRejected(Rejection):
    """A form post without a valid fill token, or sent too early or too late; ``reason`` says which."""

    status = 422
    code = "fill_time_rejected"
    # Every fill-time failure gets the same answer (a bot learns nothing); a person reloads and sends again.
    default_message = "the form was sent too early or too late, or without its fill token; reload it and send it again"

    def __init__(self, reason: str) -> None:
        super().__init__(reason=reason)


class ConfigUnavailable(RetryLater):
    """The endpoint configuration, a signing secret or a fill-token key cannot be used (a ``ConfigError``)."""

    status = 503
    code = "config_unavailable"
    default_message = "the bridge is not configured; retry later"


class NotQueued(RetryLater):
    """SQS did not take every customer (named apart from ``ingest.QueueUnavailable``, the queue's own exception)."""

    status = 503
    code = "queue_unavailable"
    default_message = "the queue is unavailable; retry later"


class DedupeUnavailable(RetryLater):
    """The idempotency table cannot be used, so a duplicate cannot be told apart."""

    status = 503
    code = "dedupe_unavailable"
    default_message = "the bridge cannot check duplicates; retry later"


class PrivacyUnavailable(RetryLater):
    """A privacy request could not be acted on now (the watermark table or the ReplayFunction): the sender retries."""

    status = 503
    code = "privacy_unavailable"
    default_message = "the bridge cannot act on this privacy request now; retry later"
