"""DrainFunction: the SQS event source mapping hands it up to 100 envelopes; one call into nxbridge.drain."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source

from nxbridge.config import DrainSettings
from nxbridge.drain import Drainer
from nxbridge.observability import logger, metrics, tracer

if TYPE_CHECKING:
    # Types only: the batch package would load Powertools' batch processors (and asyncio) on every cold start.
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

_drainer: Drainer | None = None


def _get_drainer() -> Drainer:
    # Built on the first invocation, not at import: moto and the local stack must be in place first.
    global _drainer  # noqa: PLW0603
    if _drainer is None:
        _drainer = Drainer.from_settings(DrainSettings.from_env())
    return _drainer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=SQSEvent)
def lambda_handler(event: SQSEvent, context: LambdaContext) -> PartialItemFailureResponse:
    """Deliver the batch; answer with the messages SQS must deliver again (ReportBatchItemFailures)."""
    return _get_drainer().drain(list(event.records), context.get_remaining_time_in_millis).response()
