"""ReplayFunction: the same filters and options as the CLI, as a JSON event, against moto."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fixtures.replay import Queues, ReplayContext

Invoke = Callable[..., dict[str, Any]]


def test_stats_event(replay_queues: Queues, replay_handler: Invoke) -> None:
    replay_queues.bridge("12148")
    replay_queues.redriven()
    answer = replay_handler({"action": "stats"})
    assert answer["ok"] is True
    assert answer["total"] == 2
    assert answer["by_stage"] == {"nxcloud": 1, "redrive": 1}


def test_list_event_masks_pii_unless_revealed(replay_queues: Queues, replay_handler: Invoke) -> None:
    record = replay_queues.bridge()
    answer = replay_handler({"action": "list", "error_code": "12148"})
    assert [r["message_id"] for r in answer["records"]] == [record]
    assert answer["limit"] == 100
    assert "ada.lovelace@example.com" not in str(answer)
    revealed = replay_handler({"action": "list", "reveal": True})
    assert revealed["records"][0]["customer"]["email"] == "ada.lovelace@example.com"


def test_show_event(replay_queues: Queues, replay_handler: Invoke) -> None:
    record = replay_queues.bridge("1002")
    answer = replay_handler({"action": "show", "message_id": record})
    assert (answer["found"], answer["record"]["errorCode"]) == (True, "1002")
    assert replay_handler({"action": "show", "message_id": "nope"})["found"] is False


def test_replay_event_dry_run_then_with_an_edit(replay_queues: Queues, replay_handler: Invoke) -> None:
    q = replay_queues
    seat = q.bridge("12148")
    other = q.bridge("1002")
    event: dict[str, Any] = {
        "action": "replay",
        "error_code": "12148",
        "dry_run": True,
        "limit": 100,
        "set": {"belong_seat_user": "agent@example.com"},
    }
    dry = replay_handler(event)
    assert (dry["would_replay"], dry["replayed"]) == (1, 0)
    assert q.dlq_ids() == {seat, other}
    done = replay_handler({**event, "dry_run": False})
    assert done["replayed"] == 1
    assert q.dlq_ids() == {other}
    [sent] = q.queued()
    assert sent.customer.belong_seat_user == "agent@example.com"
    assert sent.history[-1].dlq_message_id == seat


def test_replay_event_drop_fields_and_guard(replay_queues: Queues, replay_handler: Invoke) -> None:
    q = replay_queues
    q.bridge(replay_count=3)
    answer = replay_handler({"action": "replay", "drop_fields": ["belong_seat_user"]})
    assert (answer["replayed"], answer["refused"]) == (0, 1)
    answer = replay_handler({"action": "replay", "drop_fields": ["belong_seat_user"], "force": True})
    assert answer["replayed"] == 1
    [sent] = q.queued()
    assert (sent.customer.belong_seat_user, sent.replay_count) == (None, 4)


def test_max_replays_comes_from_the_environment(
    replay_queues: Queues, replay_handler: Invoke, monkeypatch: Any
) -> None:
    replay_queues.bridge(replay_count=1)
    monkeypatch.setenv("MAX_REPLAYS", "1")
    assert replay_handler({"action": "replay", "dry_run": True})["refused"] == 1


class ShrinkingContext(ReplayContext):
    """A context whose remaining time drops below the stop margin after a few looks at the clock."""

    def __init__(self, looks: int) -> None:
        super().__init__()
        self.looks = looks

    def get_remaining_time_in_millis(self) -> int:
        self.looks -= 1
        return 300_000 if self.looks >= 0 else 5_000


def test_replay_stops_before_the_lambda_deadline_and_loses_nothing(
    replay_queues: Queues, replay_handler: Invoke
) -> None:
    q = replay_queues
    ids = {q.bridge() for _ in range(5)}
    answer = replay_handler({"action": "replay"}, ShrinkingContext(looks=3))
    assert answer["interrupted"] is True
    assert 1 <= answer["replayed"] < 5
    replayed = [e.history[-1].dlq_message_id for e in q.queued()]
    assert len(replayed) == answer["replayed"]
    assert q.dlq_ids() == ids - set(replayed)


def test_replay_with_no_time_left_changes_nothing(replay_queues: Queues, replay_handler: Invoke) -> None:
    q = replay_queues
    ids = {q.bridge() for _ in range(3)}
    answer = replay_handler({"action": "replay"}, ShrinkingContext(looks=0))
    assert (answer["interrupted"], answer["replayed"]) == (True, 0)
    assert q.dlq_ids() == ids


def test_invalid_event_is_answered_with_field_errors(replay_handler: Invoke) -> None:
    answer = replay_handler({"action": "replay", "older_than": "someday", "rate": "fast"})
    assert answer["ok"] is False
    fields = {e["field"] for e in answer["errors"]}
    assert fields == {"older_than", "rate"}
    answer = replay_handler({"action": "replay", "set": {"email": "a@example.com"}, "drop_fields": "email"})
    assert answer["ok"] is False
    assert "both set and dropped" in answer["errors"][0]["reason"]
    answer = replay_handler({"action": "explode"})
    assert answer["ok"] is False
    assert answer["errors"][0]["field"] == "action"
