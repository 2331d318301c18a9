"""DLQ records of one invocation: built from the message as received (no model round trip), then written at once.

Every record that is not delivered leaves one DLQ record with the reason, and an entry (message id, stage, code,
NXCloud's trace id: never the customer's data) in the invocation's ``batch drained`` line (``logged``); a record
whose write fails goes back to SQS, never lost.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from nxbridge.aws import clients
from nxbridge.aws.sqs import send_batch
from nxbridge.drain.result import DeadLetter
from nxbridge.drain.run import RESPONSE_SECONDS, Item, Run
from nxbridge.envelope import FailureReason, Stage, Undecodable, dlq_attributes, dlq_message
from nxbridge.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

ERROR_MESSAGE_MAX_CHARS = 1000


def reason(
    stage: Stage, code: str, message: str, trace_id: str | None, attempts: int, *, at: dt.datetime
) -> FailureReason:
    """The machine-readable reason of a DLQ record (the message cut to ERROR_MESSAGE_MAX_CHARS)."""
    return FailureReason(
        stage=stage,
        errorCode=code,
        errorMessage=message[:ERROR_MESSAGE_MAX_CHARS],
        traceId=trace_id,
        attempts=attempts,
        failed_at=at,
    )


def undecodable_letter(record: SQSRecord, receive_count: int, why: Undecodable, at: dt.datetime) -> DeadLetter:
    """The letter of a message that is no envelope: the record keeps its text as ``raw_body``."""
    data = record.raw_event
    message_id: str = data["messageId"]
    error = reason("decode", why.code, why.reason, None, receive_count, at=at)
    body = dlq_message(error, raw_body=data["body"], source_message_id=message_id)
    return DeadLetter(message_id, error, body, None)


def rejected_letter(
    item: Item, stage: Stage, code: str, *, message: str | None, trace_id: str | None, at: dt.datetime
) -> DeadLetter:
    """The letter of a customer NXCloud refused: the record carries the envelope exactly as it was received."""
    error = reason(stage, code, message or "", trace_id, item.receive_count, at=at)
    body = dlq_message(error, envelope=item.body, source_message_id=item.message_id)
    return DeadLetter(item.message_id, error, body, item.endpoint)


def logged(letter: DeadLetter) -> dict[str, str]:
    """What the log says of one letter: ids and codes, never the customer's data."""
    error = letter.reason
    entry = {"messageId": letter.message_id, "stage": error.stage, "errorCode": error.errorCode}
    if error.traceId is not None:
        entry["traceId"] = error.traceId
    return entry


def send_letters(
    sqs: SQSClient,
    dlq_url: str,
    letters: Iterable[DeadLetter],
    run: Run,
    *,
    sleep: Callable[[float], None],
    rng: random.Random,
) -> None:
    """SendMessageBatch to the DLQ; a record never written is retried by SQS, never acknowledged."""
    pending = list(letters)
    if not pending:
        return
    entries: list[SendMessageBatchRequestEntryTypeDef] = [
        {"Id": str(n), "MessageBody": letter.body, "MessageAttributes": dlq_attributes(letter.reason, letter.endpoint)}
        for n, letter in enumerate(pending)
    ]
    # Each write must end before the answer to Lambda is due: the policy starts no call that could not.
    policy = clients.DRAIN.retry(sleep=sleep, rng=rng, time_left=lambda: run.remaining_ms() / 1000 - RESPONSE_SECONDS)
    sent = send_batch(sqs, dlq_url, entries, policy)
    run.result.dead_lettered.extend(pending[int(key)] for key in sorted(sent.done, key=int))
    if sent.failed:
        codes = sorted({failure.code for failure in sent.failed.values()})
        logger.error("DLQ send failed; messages go back to SQS", extra={"records": len(sent.failed), "codes": codes})
        run.result.retried.extend(pending[int(key)].message_id for key in sorted(sent.failed, key=int))
