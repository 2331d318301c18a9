"""ReplayFunction: ``nxbridge dlq`` for operators without a shell; the event is an action plus the CLI's filters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from nxbridge.aws.clients import OPERATOR, client
from nxbridge.config import ReplaySettings
from nxbridge.handlers import Lazy
from nxbridge.observability import logger, metrics, tracer
from nxbridge.ordering import Watermarks
from nxbridge.record import Record
from nxbridge.replay.request import ReplayRequest, run_request

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# Stop taking new records this long before the Lambda deadline: one send, one delete and the answer fit in it.
STOP_MARGIN_MS = 15_000


class ReplayDependencies(Record):
    """What one execution environment builds once: the settings, the SQS client, the watermarks (if a table)."""

    settings: ReplaySettings
    sqs: SQSClient
    watermarks: Watermarks | None


def _build(env: Mapping[str, str] | None) -> ReplayDependencies:
    settings = ReplaySettings.from_env(env)
    watermarks = None
    if settings.ordering_table:
        watermarks = Watermarks(client("dynamodb", OPERATOR), settings.ordering_table)
    return ReplayDependencies(settings, client("sqs", OPERATOR), watermarks)


def build_dependency(env: Mapping[str, str] | None = None) -> Lazy[ReplayDependencies]:
    """One execution environment's settings (from ``env``, default os.environ) and clients, built on first use."""
    return Lazy(lambda: _build(env))


def make_handler(
    dependency: Lazy[ReplayDependencies] | None = None,
) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """A handler with its own cold start; ``lambda_handler`` is one, the local stack makes one per environment."""
    dependencies = dependency or build_dependency()

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Run one DLQ action; an invalid event is answered with its field errors (never echoing their values)."""
        # One data point per operator request, valid or not, so that every use of the tool shows in the metrics.
        metrics.add_metric(name="DlqOperatorRequests", unit=MetricUnit.Count, value=1)
        try:
            # parse() rather than @event_parser: a bad event gets a readable answer instead of a stack trace.
            request = parse(event=event, model=ReplayRequest)
        except ValidationError as exc:
            errors = [
                {"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"].removeprefix("Value error, ")}
                for e in exc.errors(include_input=False, include_url=False)
            ]
            return {"ok": False, "errors": errors}
        built = dependencies()
        answer = run_request(
            request,
            built.sqs,
            built.settings,
            should_stop=lambda: context.get_remaining_time_in_millis() < STOP_MARGIN_MS,
            watermarks=built.watermarks,
        )
        if request.action == "replay" and not request.dry_run:
            metrics.add_metric(name="DlqReplayed", unit=MetricUnit.Count, value=answer["replayed"])
            metrics.add_metric(name="DlqReplayRefused", unit=MetricUnit.Count, value=answer["refused"])
        return {"ok": True, **answer}

    return lambda_handler


lambda_handler = make_handler()
