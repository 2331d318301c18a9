"""IngestFunction: API Gateway (HTTP API, payload 2.0) ``POST /webhooks/{endpoint}``; one call into nxbridge.ingest.

Form endpoints also get ``OPTIONS /webhooks/{endpoint}`` (CORS preflight) and ``GET /webhooks/{endpoint}/token``
(a fill token); the logic tells them apart by method.

Not Powertools' APIGatewayHttpResolver: the routes share one pipeline, and the status codes and headers are decided
per endpoint by the logic (405 with Allow, per-endpoint answers for forms), so a router would add only import time.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from nxbridge.handlers import Lazy
from nxbridge.observability import logger, metrics

if TYPE_CHECKING:
    from nxbridge.ingest import Ingest, WebhookResponse
    from nxbridge.sources import WebhookRequest

_ROUTE_PREFIX = "/webhooks/"


def _request(event: APIGatewayProxyEventV2, context: LambdaContext) -> WebhookRequest:
    from nxbridge.sources import WebhookRequest  # noqa: PLC0415

    # The raw bytes are what the sender signed: decode base64 (form posts) ourselves rather than via the data
    # class's text view.
    body: bytes | None
    raw = event.get("body")
    try:
        # surrogatepass: a text body that is not valid Unicode must fail verification, not the handler.
        body = (
            base64.b64decode(raw or "", validate=True)
            if event.is_base64_encoded
            else (raw or "").encode("utf-8", "surrogatepass")
        )
    except (binascii.Error, ValueError):
        body = None
    http = event.request_context.http
    endpoint = (event.get("pathParameters") or {}).get("endpoint") or event.raw_path.removeprefix(_ROUTE_PREFIX)
    epoch_ms = event.request_context.time_epoch
    received_at = dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC) if epoch_ms else dt.datetime.now(dt.UTC)
    return WebhookRequest(
        endpoint=endpoint,
        method=http.method,
        headers={str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()},
        body=body,
        request_id=event.request_context.request_id or context.aws_request_id,
        received_at=received_at,
    )


def _result(response: WebhookResponse) -> dict[str, Any]:
    if response.text is not None:
        # A page, a redirect or a preflight for a browser: the logic set its headers (content type included).
        return {"statusCode": response.status, "headers": dict(response.headers), "body": response.text}
    return {
        "statusCode": response.status,
        "headers": {"content-type": "application/json", **response.headers},
        "body": json.dumps(response.body, ensure_ascii=False, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def _build(env: Mapping[str, str] | None) -> Ingest:
    # The kinds' modules, boto3 and the pydantic models load on the first invocation, not at import.
    from nxbridge.config import IngestSettings  # noqa: PLC0415
    from nxbridge.ingest import Ingest  # noqa: PLC0415

    return Ingest.from_settings(IngestSettings.from_env(env))


def build_dependency(env: Mapping[str, str] | None = None) -> Lazy[Ingest]:
    """The Ingest of one execution environment, built from ``env`` (default os.environ) on first use."""
    return Lazy(lambda: _build(env))


def make_handler(
    dependency: Lazy[Ingest] | None = None,
) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """A handler with its own cold start; ``lambda_handler`` is one, the local stack makes one per environment."""
    ingest = dependency or build_dependency()

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @metrics.log_metrics
    @event_source(data_class=APIGatewayProxyEventV2)
    def lambda_handler(event: APIGatewayProxyEventV2, context: LambdaContext) -> dict[str, Any]:
        """Verify, map, validate and queue one webhook; answer with the status the sender acts on."""
        pipeline = ingest()
        pipeline.register_lambda_context(context)
        return _result(pipeline.handle(_request(event, context)))

    handler: Callable[[dict[str, Any], LambdaContext], dict[str, Any]] = lambda_handler
    return handler


lambda_handler = make_handler()
