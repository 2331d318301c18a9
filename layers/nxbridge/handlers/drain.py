"""DrainFunction: the SQS event source mapping hands it up to 100 envelopes; one call into nxbridge.drain."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from nxbridge.config import DrainSettings
from nxbridge.drain import Drainer
from nxbridge.handlers import Lazy
from nxbridge.observability import logger, metrics, tracer

if TYPE_CHECKING:
    # Types only: the batch package would load Powertools' batch processors (and asyncio) on every cold start.
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse


def build_dependency(env: Mapping[str, str] | None = None) -> Lazy[Drainer]:
    """The Drainer of one execution environment, built from ``env`` (default os.environ) on first use."""
    return Lazy(lambda: Drainer.from_settings(DrainSettings.from_env(env)))


def make_handler(dependency: Lazy[Drainer] | None = None) -> Callable[[dict[str, Any], LambdaContext], Any]:
    """A handler with its own cold start; ``lambda_handler`` is one, the local stack makes one per environment."""
    drainer = dependency or build_dependency()

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    @event_source(data_class=SQSEvent)
    def lambda_handler(event: SQSEvent, context: LambdaContext) -> PartialItemFailureResponse:
        """Deliver the batch; answer with the messages SQS must deliver again (ReportBatchItemFailures)."""
        return drainer().drain(list(event.records), context.get_remaining_time_in_millis).response()

    handler: Callable[[dict[str, Any], LambdaContext], Any] = lambda_handler
    return handler


lambda_handler = make_handler()
