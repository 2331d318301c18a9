"""The drain's decode: a batch read in one call gives each message's Item what reading it alone gives."""

from __future__ import annotations

import datetime as dt

from nxbridge.drain.decode import decode
from nxbridge.drain.run import Item
from nxbridge.envelope import QueuedCustomer, read_current, read_message
from tests.fixtures.drain import make_envelope, records_for, sqs_record, versioned

AT = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)


def _now() -> dt.datetime:
    return AT


def _read_alone(item: Item) -> Item:
    read = read_message(item.body)
    assert isinstance(read, QueuedCustomer)
    return Item.of(item.message_id, item.attributes, item.body, read)


def test_a_current_batch_gives_the_items_each_message_read_alone_gives() -> None:
    envelopes = [make_envelope(0), versioned(1, AT), versioned(2, AT, identity="shop:42"), make_envelope(3)]
    records = records_for(envelopes)

    items, letters, in_full = decode(records, _now)

    assert (letters, in_full) == ([], 0)
    assert read_current([record.body for record in records]) is not None
    assert items == [_read_alone(item) for item in items]
    assert [item.message_id for item in items] == [record.message_id for record in records]
    assert [item.customer for item in items] == [envelope.customer for envelope in envelopes]
    assert [item.endpoint for item in items] == [envelope.endpoint for envelope in envelopes]
    assert items[0].version is None and items[0].identity is None
    assert items[2].version == ("shop:42", AT)


def test_a_batch_with_a_message_out_of_shape_reads_the_others_one_by_one_alike() -> None:
    records = [*records_for([make_envelope(0), versioned(1, AT)]), sqs_record('{"v": 2, "endpoint": "x"}')]

    items, letters, in_full = decode(records, _now)

    assert [letter.message_id for letter in letters] == [records[2].message_id]
    assert letters[0].reason.stage == "decode"
    assert in_full == 0
    assert items == [_read_alone(item) for item in items]
    assert items == decode(records[:2], _now)[0]
