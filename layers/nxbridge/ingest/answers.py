"""The ingest's switchboard: an ``Outcome`` or a ``Rejection`` becomes the ``WebhookResponse`` the sender acts on.

Every refusal is answered here, and only here, and counted in WebhooksRejected by its reason (a held-back form
post too, although its sender is told it was accepted).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from nxbridge.observability import NAMESPACE, SERVICE, logger
from nxbridge.outcomes import Accepted, Acknowledged, Duplicate, HeldBack, Outcome, Ping, WebhookResponse
from nxbridge.rejections import Rejection
from nxbridge.sources import Ignored, WebhookRequest


def respond(request: WebhookRequest, outcome: Outcome) -> WebhookResponse:
    """The answer to a request the pipeline did not refuse."""
    request_id = request.request_id
    match outcome:
        case Accepted(count=count):
            return WebhookResponse(202, {"accepted": count, "requestId": request_id})
        case Duplicate():
            return WebhookResponse(200, {"duplicate": True, "requestId": request_id})
        case Ignored(reason=reason):
            return WebhookResponse(200, {"accepted": 0, "ignored": reason, "requestId": request_id})
        case Ping():
            return WebhookResponse(200, {"ping": True, "requestId": request_id})
        case Acknowledged(topic=topic):
            return WebhookResponse(200, {"acknowledged": topic, "requestId": request_id})
        case HeldBack(reason=reason):
            # A bot that filled the honeypot is told what a person is told (a form post is one customer).
            count_rejection(request, 202, reason)
            return WebhookResponse(202, {"accepted": 1, "requestId": request_id})


def rejected(request: WebhookRequest, rejection: Rejection) -> WebhookResponse:
    """The JSON error answer of ``rejection``, counted in WebhooksRejected by its reason."""
    body: dict[str, Any] = {"error": rejection.code, "message": rejection.message}
    if rejection.problems:
        shown = [p.to_dict() for p in rejection.problems]
        # Field names and reasons only: the masked values stay out of the logs.
        logger.info(
            "customers refused",
            extra={"errors": [{k: v for k, v in p.items() if k != "value"} for p in shown]},
        )
        body["errors"] = shown
    count_rejection(request, rejection.status, rejection.reason)
    return WebhookResponse(rejection.status, {**body, "requestId": request.request_id}, dict(rejection.headers))


def count_rejection(request: WebhookRequest, status: int, reason: str) -> None:
    """One WebhooksRejected datapoint with the ``reason`` dimension, and a warning without any payload."""
    with single_metric(name="WebhooksRejected", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="service", value=SERVICE)
        metric.add_dimension(name="reason", value=reason)
    logger.warning("webhook rejected", extra={"endpoint": request.endpoint, "status": status, "reason": reason})
