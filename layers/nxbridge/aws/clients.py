"""boto3 clients with an explicit botocore ``Config`` per use: every timeout and attempt count stands in PROFILES.

Build a client once per execution environment (``from_settings``) and reuse it: clients are thread-safe. A call
is retried in one layer only: where the code retries failed entries itself (``nxbridge.aws.sqs``), botocore
makes a single attempt, so that the attempts do not multiply and a deadline can be kept.
"""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config

from nxbridge.aws.retry import RetryPolicy
from nxbridge.record import Record

if TYPE_CHECKING:
    from boto3.session import Session
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

# botocore's standard retry mode pauses at most 20 s between attempts, 5 s more after an x-amz-retry-after header.
BOTOCORE_MAX_PAUSE_SECONDS = 25.0


class Profile(Record):
    """How one use talks to AWS: botocore's timeouts and attempts per call, and how batch calls retry entries."""

    name: str
    connect_timeout: float
    read_timeout: float
    # botocore's attempts per API call, the first included (standard retry mode); 1 means botocore never retries.
    total_attempts: int
    batch_retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def call_seconds(self) -> float:
        """The longest one API call can take with these settings: every attempt timing out, pauses included."""
        pauses = (self.total_attempts - 1) * BOTOCORE_MAX_PAUSE_SECONDS
        return self.total_attempts * (self.connect_timeout + self.read_timeout) + pauses

    def config(self) -> Config:
        """The botocore Config of this profile."""
        return Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"mode": "standard", "total_max_attempts": self.total_attempts},
        )

    def retry(self, **changes: Any) -> RetryPolicy:
        """This use's batch retry policy, knowing how long one call can take, with ``changes`` (sleep, time_left...)."""
        return self.batch_retry.replace(call_seconds=self.call_seconds, **changes)


# A webhook sender gives up after 5-10 s (Shopify: 5 s): the ingest fails fast and answers 503, the sender retries.
# Parameters, secrets (both cached) and the dedupe table get one botocore retry.
INGEST = Profile("ingest", connect_timeout=1.0, read_timeout=2.0, total_attempts=2)
# SendMessageBatch of the ingest: CustomerQueue retries the failed entries itself, twice, 50 then 100 ms later
# (pauses this short, inside one request, gain nothing from jitter).
INGEST_QUEUE = Profile(
    "ingest-queue",
    connect_timeout=0.5,
    read_timeout=1.0,
    total_attempts=1,
    batch_retry=RetryPolicy(attempts=3, base=0.05, cap=0.2, jitter=False),
)
# How long the ingest may spend queueing one webhook's customers: no SendMessageBatch starts that could end later.
INGEST_QUEUE_BUDGET_SECONDS = 3.0
# The drain's DLQ writes: one call must fit in the margin the drain keeps before the Lambda deadline
# (nxbridge.drain.DEADLINE_MARGIN_MS), so botocore makes one short attempt and send_batch retries within the deadline.
DRAIN = Profile(
    "drain",
    connect_timeout=0.5,
    read_timeout=0.75,
    total_attempts=1,
    batch_retry=RetryPolicy(attempts=3, base=0.2, cap=1.0),
)
# The drain's watermark claims and releases (nxbridge.ordering): one short attempt each. A failed claim sends its
# record back to SQS, a failed release lets the lease expire; neither is worth a pause inside the deadline.
DRAIN_ORDERING = Profile("drain-ordering", connect_timeout=0.5, read_timeout=0.75, total_attempts=1)
# The NXCloud secret, read on a cold start and when the cache expires: a failure sends the whole batch back to SQS
# as a configuration failure, so it gets retries; it happens before the first NXCloud call and its deadline check.
DRAIN_SECRETS = Profile("drain-secrets", connect_timeout=1.0, read_timeout=3.0, total_attempts=3)
# The operator CLI and the ReplayFunction: patient. The read timeout outlasts a 20 s ReceiveMessage long poll.
OPERATOR = Profile(
    "operator",
    connect_timeout=5.0,
    read_timeout=30.0,
    total_attempts=3,
    batch_retry=RetryPolicy(attempts=3, base=0.2, cap=5.0),
)

PROFILES: tuple[Profile, ...] = (INGEST, INGEST_QUEUE, DRAIN, DRAIN_ORDERING, DRAIN_SECRETS, OPERATOR)


@overload
def client(
    service: Literal["sqs"], profile: Profile, session: Session | None = None, *, endpoint_url: str | None = None
) -> SQSClient: ...
@overload
def client(
    service: Literal["secretsmanager"],
    profile: Profile,
    session: Session | None = None,
    *,
    endpoint_url: str | None = None,
) -> SecretsManagerClient: ...
@overload
def client(
    service: Literal["ssm"], profile: Profile, session: Session | None = None, *, endpoint_url: str | None = None
) -> SSMClient: ...
@overload
def client(
    service: Literal["dynamodb"], profile: Profile, session: Session | None = None, *, endpoint_url: str | None = None
) -> DynamoDBClient: ...
@overload
def client(
    service: Literal["lambda"], profile: Profile, session: Session | None = None, *, endpoint_url: str | None = None
) -> LambdaClient: ...
@overload
def client(
    service: Literal["cloudformation"],
    profile: Profile,
    session: Session | None = None,
    *,
    endpoint_url: str | None = None,
) -> CloudFormationClient: ...
def client(service: str, profile: Profile, session: Session | None = None, *, endpoint_url: str | None = None) -> Any:
    """A boto3 client for ``service`` configured by ``profile``, from ``session`` (default: boto3's default session).

    ``endpoint_url`` None leaves botocore's own resolution, which honours AWS_ENDPOINT_URL (the local stack).
    """
    factory = session.client if session is not None else boto3.client
    return factory(service, config=profile.config(), endpoint_url=endpoint_url)  # type: ignore[call-overload]
