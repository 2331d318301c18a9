"""The Drainer: the clients of one execution environment, and the steps of one invocation in order."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parameters import SecretsProvider

from nxbridge.aws import clients
from nxbridge.config import DrainSettings
from nxbridge.drain.admission import admit, release
from nxbridge.drain.credentials import CredentialsSource, SecretCredentials
from nxbridge.drain.dead_letters import send_letters
from nxbridge.drain.decode import decode
from nxbridge.drain.delivery import BatchSender, Delivery
from nxbridge.drain.report import record_outcome
from nxbridge.drain.result import DrainResult
from nxbridge.drain.run import DEADLINE_MARGIN_MS, Run
from nxbridge.envelope import utcnow
from nxbridge.nxcloud.client import NXCloudClient
from nxbridge.observability import metrics
from nxbridge.ordering import WORKERS, Watermarks

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class Drainer:
    """Delivers SQS batches of envelopes to NXCloud; one instance lives across warm invocations."""

    def __init__(
        self,
        *,
        sqs: SQSClient,
        credentials: CredentialsSource,
        nxcloud: BatchSender,
        settings: DrainSettings,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        now: Callable[[], dt.datetime] = utcnow,
        watermarks: Watermarks | None = None,
    ) -> None:
        self.sqs = sqs
        self.credentials = credentials
        self.nxcloud = nxcloud
        self.settings = settings
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.now = now
        self.watermarks = watermarks
        self.ordering_workers = WORKERS
        self._ordering_pool: ThreadPoolExecutor | None = None
        self.call_budget_ms = int((settings.connect_timeout + settings.read_timeout) * 1000) + DEADLINE_MARGIN_MS

    @classmethod
    def from_settings(cls, settings: DrainSettings) -> Drainer:
        """Production wiring: boto3 clients (AWS_ENDPOINT_URL is honoured by boto3), Secrets Manager, NXCloud."""
        provider = SecretsProvider(boto3_client=clients.client("secretsmanager", clients.DRAIN_SECRETS))
        return cls(
            sqs=clients.client("sqs", clients.DRAIN),
            credentials=SecretCredentials(provider, settings.nxcloud_secret_arn, settings.cache_seconds),
            nxcloud=NXCloudClient(
                settings.nxcloud_base_url,
                connect_timeout=settings.connect_timeout,
                read_timeout=settings.read_timeout,
            ),
            settings=settings,
            watermarks=(
                Watermarks(clients.client("dynamodb", clients.DRAIN_ORDERING), settings.ordering_table)
                if settings.ordering_table
                else None
            ),
        )

    def _pool(self) -> ThreadPoolExecutor | None:
        """The watermark calls' threads, started by the first batch and kept for the next ones, as a warm execution
        environment keeps its clients (a pool per batch started its threads again for every batch); None without
        an ordering table, when there is nothing to run in them. Idle threads end with the drainer."""
        if self.watermarks is None:
            return None
        if self._ordering_pool is None:
            self._ordering_pool = ThreadPoolExecutor(max_workers=self.ordering_workers, thread_name_prefix="ordering")
        return self._ordering_pool

    def drain(self, records: Sequence[SQSRecord], remaining_ms: Callable[[], int]) -> DrainResult:
        """Deliver ``records`` (one SQS batch) and say where each one ended."""
        run = Run(remaining_ms)
        items, run.pending_dlq, run.validated_in_full = decode(records, self.now)
        metrics.add_metric(name="BatchSize", unit=MetricUnit.Count, value=len(records))
        delivery = Delivery(
            run, self.credentials, self.nxcloud, self.settings, self.sleep, self.rng, self.now, self.call_budget_ms
        )
        pool = self._pool()
        items = admit(items, run, self.watermarks, pool, self.call_budget_ms)
        try:
            if items:
                delivery.deliver(items)
            send_letters(self.sqs, self.settings.dlq_url, run.pending_dlq, run, sleep=self.sleep, rng=self.rng)
        except BaseException:
            # Whatever the batch reached NXCloud with may be stored: every version claimed counts as sent.
            release(run, self.watermarks, pool, crashed=True)
            raise
        release(run, self.watermarks, pool, crashed=False)
        record_outcome(run)
        return run.result
