"""Run in a fresh interpreter of the clean venv by bench/memory.py: one drain of 100 records, then the peak RSS.

The handler is nxbridge.handlers.drain's, as functions/drain/app.py re-exports it; its Drainer is wired like
``Drainer.from_settings`` (real boto3 clients for SQS and Secrets Manager, the real NXCloud client) except that
the clients answer from botocore's Stubber and the NXCloud session from a canned answer, so nothing leaves the
machine.
"""

from __future__ import annotations

import json
import resource
import sys
import uuid
from typing import Any

RESULT_PREFIX = "bench-memory-result "


def rss_mb() -> tuple[float, float]:
    """Peak resident set size so far, in MB: (VmHWM of this program, ``ru_maxrss``).

    Linux carries ``ru_maxrss`` across fork and exec, so in a child of a large process it starts at the parent's
    size; VmHWM belongs to the address space that exec created, i.e. to this program alone.
    """
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024, maxrss
    return maxrss, maxrss


def main() -> None:
    """Import the handler, drain ``batches`` batches of 100, print the peak RSS after each stage as JSON."""
    batches = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    stages = {"interpreter": rss_mb()}
    from nxbridge.handlers import Lazy  # noqa: PLC0415 - measured: the handler's import is a stage
    from nxbridge.handlers.drain import make_handler  # noqa: PLC0415

    stages["handler imported"] = rss_mb()

    import boto3  # noqa: PLC0415 - after the handler, as in Lambda
    from aws_lambda_powertools.utilities.parameters import SecretsProvider  # noqa: PLC0415
    from botocore.stub import Stubber  # noqa: PLC0415

    from bench.drain_cpu import FAIL_INDEXES, sqs_records  # noqa: PLC0415
    from bench.fakes import CREDENTIALS, CannedResponse, CannedSession, batch_answer  # noqa: PLC0415
    from nxbridge.config import DrainSettings  # noqa: PLC0415
    from nxbridge.drain import Drainer, SecretCredentials  # noqa: PLC0415
    from nxbridge.nxcloud.client import NXCloudClient  # noqa: PLC0415

    settings = DrainSettings.from_env()
    sqs = boto3.client("sqs")
    secrets = boto3.client("secretsmanager")
    sqs_stub, secrets_stub = Stubber(sqs), Stubber(secrets)
    secrets_stub.add_response(
        "get_secret_value",
        {
            "ARN": settings.nxcloud_secret_arn,
            "Name": "nxcloud",
            "VersionId": str(uuid.uuid4()),
            "SecretString": json.dumps(
                {
                    "accessKey": CREDENTIALS.access_key,
                    "accessSecret": CREDENTIALS.access_secret.get_secret_value(),
                    "tenantId": CREDENTIALS.tenant_id,
                    "appKey": CREDENTIALS.app_key,
                }
            ),
        },
    )
    for _ in range(batches):
        sqs_stub.add_response(
            "send_message_batch",
            {
                "Successful": [
                    {"Id": str(n), "MessageId": str(uuid.uuid4()), "MD5OfMessageBody": "0" * 32}
                    for n in range(len(FAIL_INDEXES))
                ],
                "Failed": [],
            },
        )
    sqs_stub.activate()
    secrets_stub.activate()
    session = CannedSession(CannedResponse(200, batch_answer(100, FAIL_INDEXES)))
    # The handler's execution environment gets this Drainer instead of building its own.
    drainer = Drainer(
        sqs=sqs,
        credentials=SecretCredentials(SecretsProvider(boto3_client=secrets), settings.nxcloud_secret_arn, 300),
        nxcloud=NXCloudClient(settings.nxcloud_base_url, session=session),  # type: ignore[arg-type]
        settings=settings,
    )
    lambda_handler = make_handler(Lazy(lambda: drainer))
    stages["clients built"] = rss_mb()
    event = {"Records": sqs_records()}
    failures: list[Any] = []
    for number in range(batches):
        context = _Context(f"00000000-0000-4000-8000-{number:012d}")
        response = lambda_handler(event, context)
        failures.extend(response["batchItemFailures"])
        if number == 0:
            stages["first batch drained"] = rss_mb()
    stages[f"{batches} batches drained"] = rss_mb()
    print(
        RESULT_PREFIX + json.dumps({"stages": stages, "failures": len(failures), "body_bytes": len(session.last_body)})
    )


class _Context:
    """What Powertools and the drain read from the Lambda context."""

    function_name = "nxbridge-DrainFunction"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:nxbridge-DrainFunction"

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


if __name__ == "__main__":
    main()
