"""One request as the ReplayFunction receives it: an action plus the CLI's filters and options, and its answer."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from nxbridge.observability import logger
from nxbridge.replay.filters import DlqFilter, as_tuple
from nxbridge.replay.records import view
from nxbridge.replay.scan import DlqScanner, find, select, stats

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from nxbridge.config import ReplaySettings
    from nxbridge.ordering import Watermarks
    from nxbridge.replay.plan import Edits

# The reading actions (stats, list, show) need the scanner and the records only: the replay machinery (plan,
# replayer) and the export load with the first request that uses them, not on every cold start.


class ReplayRequest(DlqFilter):
    """The ReplayFunction event: an action plus the CLI's filters and options, as JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    action: Literal["stats", "list", "show", "replay", "erase"]
    message_id: str | None = None
    limit: int | None = Field(default=None, ge=1)
    dry_run: bool = False
    rate: float | None = Field(default=None, gt=0)
    max_replays: int | None = Field(default=None, ge=0)
    force: bool = False
    set_fields: dict[str, Any] = Field(default_factory=dict, alias="set")
    drop_fields: tuple[str, ...] = ()
    reveal: bool = False
    # Privacy requests (sent by the ingest for Shopify's compliance topics): what to name in the one audit log line,
    # and, for an erase by endpoint, whether the endpoint's watermark items go too.
    audit: str | None = None
    watermarks: bool = False

    @field_validator("rate", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> Any:
        if value is None:
            return None
        from nxbridge.replay.replayer import parse_rate  # noqa: PLC0415 - only a replay has a rate

        return parse_rate(value)

    @field_validator("drop_fields", mode="before")
    @classmethod
    def _drop(cls, value: Any) -> Any:
        return as_tuple(value)

    @model_validator(mode="after")
    def _consistent(self) -> "ReplayRequest":
        if self.action == "show" and not self.message_id:
            raise ValueError("action show needs message_id")
        if self.action == "erase" and not (self.identity or self.endpoint):
            raise ValueError("action erase needs identity or endpoint: it never erases the whole DLQ")
        if self.watermarks and not (self.action == "erase" and self.endpoint):
            raise ValueError("watermarks goes with action erase and an endpoint")
        both = sorted(set(self.set_fields) & set(self.drop_fields))
        if both:
            raise ValueError(f"fields both set and dropped: {', '.join(both)}")
        return self

    @property
    def edits(self) -> "Edits":
        """The customer edits of a replay."""
        from nxbridge.replay.plan import Edits  # noqa: PLC0415 - only a replay edits

        return Edits(set_fields=self.set_fields, drop_fields=self.drop_fields)

    @property
    def dlq_filter(self) -> DlqFilter:
        """The filter part of the request."""
        return DlqFilter.model_validate(self.model_dump(include=set(DlqFilter.model_fields)))


# A list answer must fit in Lambda's 6 MB response; more than this is what export (CLI) is for.
LIST_LIMIT_DEFAULT = 100


def run_request(
    request: ReplayRequest,
    sqs: "SQSClient",
    settings: "ReplaySettings",
    *,
    should_stop: Callable[[], bool] = lambda: False,
    watermarks: "Watermarks | None" = None,
) -> dict[str, Any]:
    """Carry out one ReplayFunction request and return its JSON-ready answer."""
    answer = _run(request, sqs, settings, should_stop, watermarks)
    if request.audit is not None:
        # The audit trail of a privacy request: counts only, never the customer (the filter holds hashes).
        counts = {k: v for k, v in answer.items() if isinstance(v, int | str) and k != "action"}
        logger.info("privacy request carried out", extra={"audit": request.audit, "action": request.action, **counts})
    return answer


def _run(
    request: ReplayRequest,
    sqs: "SQSClient",
    settings: "ReplaySettings",
    should_stop: Callable[[], bool],
    watermarks: "Watermarks | None",
) -> dict[str, Any]:
    scanner = DlqScanner(
        sqs, settings.dlq_url, visibility_timeout=settings.visibility_timeout, wait_seconds=settings.wait_seconds
    )
    if request.action == "stats":
        with scanner:
            return {"action": "stats", **stats(scanner, request.dlq_filter).model_dump(mode="json")}
    if request.action == "erase":
        from nxbridge.replay.export import erase  # noqa: PLC0415 - see the imports

        with scanner:
            erased = erase(scanner, request.dlq_filter).model_dump(mode="json")
        if request.watermarks:
            if watermarks is None:
                logger.warning("no ORDERING_TABLE: the endpoint's watermarks are not erased")
            else:
                erased["watermarks_erased"] = sum(watermarks.forget_endpoint(e) for e in request.endpoint)
        return erased
    if request.action == "show":
        with scanner:
            found = find(scanner, request.message_id or "")
        if found is None:
            return {"action": "show", "found": False, "message_id": request.message_id}
        return {"action": "show", "found": True, "record": view(found, reveal=request.reveal).model_dump(mode="json")}
    if request.action == "list":
        limit = request.limit or LIST_LIMIT_DEFAULT
        with scanner:
            records = [
                view(m, reveal=request.reveal).model_dump(mode="json")
                for m in select(scanner, request.dlq_filter, limit=limit)
            ]
        return {"action": "list", "count": len(records), "limit": limit, "records": records}
    from nxbridge.replay.plan import ReplayOptions  # noqa: PLC0415 - see the imports
    from nxbridge.replay.replayer import Replayer, replay_visibility  # noqa: PLC0415

    options = ReplayOptions(
        dry_run=request.dry_run,
        limit=request.limit,
        rate=request.rate,
        max_replays=settings.max_replays if request.max_replays is None else request.max_replays,
        force=request.force,
        edits=request.edits,
    )
    scanner.visibility_timeout = replay_visibility(settings.visibility_timeout, options.rate)
    if watermarks is None:
        logger.warning("no ORDERING_TABLE: stale records are not refused (the drain still supersedes them)")
    replayer = Replayer(sqs, settings.queue_url, watermarks=watermarks)
    summary = replayer.run(scanner, request.dlq_filter, options, should_stop=should_stop)
    return summary.model_dump(mode="json")
