"""The batch's SQS records as decoded messages, or as DLQ letters (stage ``decode``) when they are no envelope."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from nxbridge.drain.dead_letters import undecodable_letter
from nxbridge.drain.result import DeadLetter
from nxbridge.drain.run import Item, receive_count
from nxbridge.envelope import Undecodable, read_current_fields, read_message


def decode(records: Sequence[SQSRecord], now: Callable[[], dt.datetime]) -> tuple[list[Item], list[DeadLetter], int]:
    """Each record's envelope read (on trust when current, see ``nxbridge.envelope``) or its DLQ letter, and how
    many envelopes were validated in full."""
    # The raw dicts, not the data class's properties: each of those wraps or looks up again for every record.
    events = [record.raw_event for record in records]
    current = read_current_fields([data["body"] for data in events])
    if current is not None:
        # The common batch, every message current and in shape, read in one pydantic-core call; each Item made
        # straight from the fields read_current would make its QueuedCustomer of.
        fast: list[Item] = []
        keep = fast.append
        for data, fields in zip(events, current, strict=True):
            identity, at = fields.get("identity"), fields.get("event_at")
            keep(
                Item(
                    data["messageId"],
                    data["attributes"],
                    data["body"],
                    fields["endpoint"],
                    fields["customer"],
                    identity,
                    (identity, at) if identity is not None and at is not None else None,
                )
            )
        return fast, [], 0
    items: list[Item] = []
    letters: list[DeadLetter] = []
    in_full = 0
    keep = items.append
    for record, data in zip(records, events, strict=True):
        body: str = data["body"]
        read = read_message(body)
        if isinstance(read, Undecodable):
            letters.append(undecodable_letter(record, receive_count(data["attributes"]), read, now()))
            continue
        if not read.trusted:
            in_full += 1
        keep(Item.of(data["messageId"], data["attributes"], body, read))
    return items, letters, in_full
