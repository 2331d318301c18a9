"""Finding the two queues and the watermark table (a stack's outputs), and SQS's own counts of what the queues hold."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from nxbridge.aws.sqs import queue_counts
from nxbridge.replay.errors import ReplayError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_sqs import SQSClient

# Output keys of template.yaml; stacks that name them differently are found by these fragments of the key.
QUEUE_OUTPUT_KEY = "QueueUrl"
DLQ_OUTPUT_KEY = "DlqUrl"
QUEUE_OUTPUT_FRAGMENT = "customersqueueurl"
DLQ_OUTPUT_FRAGMENT = "customersdlqurl"
# The drain's watermarks live in the IdempotencyTable.
TABLE_OUTPUT_KEY = "IdempotencyTableName"
TABLE_OUTPUT_FRAGMENT = "idempotencytable"


@dataclass(frozen=True)
class StackQueues:
    """The queue URLs (and the watermark table) a deployed stack publishes as outputs."""

    queue_url: str | None
    dlq_url: str | None
    ordering_table: str | None = None


def output(outputs: Mapping[str, str], key: str, fragment: str) -> str | None:
    """The output named ``key``, else the first whose key holds ``fragment`` (lower case)."""
    if key in outputs:
        return outputs[key]
    return next((v for k, v in sorted(outputs.items()) if fragment in k.lower()), None)


def stack_outputs(cloudformation: CloudFormationClient, stack_name: str) -> dict[str, str]:
    """A CloudFormation stack's outputs by key; ReplayError when the stack cannot be read."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise ReplayError(f"cannot read stack {stack_name!r}: {exc}") from None
    return {
        o["OutputKey"]: o["OutputValue"]
        for s in stacks
        for o in s.get("Outputs", [])
        if "OutputKey" in o and "OutputValue" in o
    }


def queues_from_stack(cloudformation: CloudFormationClient, stack_name: str) -> StackQueues:
    """Read the CustomersQueue and CustomersDLQ URLs from a CloudFormation stack's outputs."""
    outputs = stack_outputs(cloudformation, stack_name)
    found = StackQueues(
        queue_url=output(outputs, QUEUE_OUTPUT_KEY, QUEUE_OUTPUT_FRAGMENT),
        dlq_url=output(outputs, DLQ_OUTPUT_KEY, DLQ_OUTPUT_FRAGMENT),
        ordering_table=output(outputs, TABLE_OUTPUT_KEY, TABLE_OUTPUT_FRAGMENT),
    )
    if found.queue_url is None and found.dlq_url is None:
        raise ReplayError(f"stack {stack_name!r} has no {QUEUE_OUTPUT_KEY} or {DLQ_OUTPUT_KEY} output")
    return found


def approximate_counts(sqs: SQSClient, queue_url: str) -> dict[str, int]:
    """SQS's own approximate counts of visible, in-flight and delayed messages."""
    counts = queue_counts(sqs, queue_url)
    return {"visible": counts.visible, "in_flight": counts.in_flight, "delayed": counts.delayed}
