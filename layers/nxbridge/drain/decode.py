"""The batch's SQS records as decoded messages, or as DLQ letters (stage ``decode``) when they are no envelope."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from nxbridge.drain.dead_letters import undecodable_letter
from nxbridge.drain.result import DeadLetter
from nxbridge.drain.run import Item
from nxbridge.envelope import Undecodable, read_message


def decode(record: SQSRecord, now: Callable[[], dt.datetime]) -> Item | DeadLetter:
    """One record: its envelope read (on trust when current, see ``nxbridge.envelope``), or its DLQ letter."""
    # The raw dict, not the data class's properties: each of those wraps or looks up again for every record.
    data = record.raw_event
    receive_count = int(data["attributes"].get("ApproximateReceiveCount") or 1)
    body: str = data["body"]
    read = read_message(body)
    if isinstance(read, Undecodable):
        return undecodable_letter(record, receive_count, read, now())
    return Item.of(data["messageId"], receive_count, body, read)
