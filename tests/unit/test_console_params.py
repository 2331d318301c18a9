"""The console reads its forms into the replay module's own models, with the CLI's meaning for every field."""

from __future__ import annotations

import datetime as dt

import pytest
from werkzeug.datastructures import MultiDict

from nxbridge.console.formatting import age_text, count_text
from nxbridge.console.params import FormError, dlq_filter, replay_options, replay_request


def test_list_fields_take_repeats_commas_and_lines() -> None:
    values = MultiDict([("error_code", "12148, 1002"), ("error_code", "maxReceiveCount"), ("id", "a\nb\n")])
    chosen = dlq_filter(values)
    assert chosen.error_code == ("12148", "1002", "maxReceiveCount")
    assert chosen.id == ("a", "b")


def test_an_age_bucket_becomes_the_window_it_counts() -> None:
    chosen = dlq_filter(MultiDict([("age", "1-24h")]))
    assert chosen.older_than is not None and chosen.newer_than is not None
    assert dt.timedelta(hours=22) < chosen.older_than - chosen.newer_than < dt.timedelta(hours=24)
    with pytest.raises(FormError, match="unknown age"):
        dlq_filter(MultiDict([("age", "2w")]))


def test_an_unknown_stage_is_a_form_error() -> None:
    with pytest.raises(FormError, match="unknown stage ingest"):
        dlq_filter(MultiDict([("stage", "ingest")]))


def test_a_replay_form_means_what_the_cli_options_mean() -> None:
    values = MultiDict(
        [
            ("error_code", "12148"),
            ("set", "belong_seat_user=sales@example.com\ntagStr=a=b"),
            ("drop_field", "email, phone"),
            ("limit", "5"),
            ("rate", "300/m"),
            ("force", "1"),
        ]
    )
    request = replay_request(values)
    assert request.edits.set_fields == {"belong_seat_user": "sales@example.com", "tagStr": "a=b"}
    assert request.edits.drop_fields == ("email", "phone")
    options = replay_options(request, default_max_replays=3)
    assert (options.limit, options.rate, options.max_replays, options.force, options.dry_run) == (
        5,
        5.0,
        3,
        True,
        False,
    )
    assert replay_options(replay_request(MultiDict([("max_replays", "0")])), default_max_replays=3).max_replays == 0


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ([("set", "no-equals-sign")], "is not field=value"),
        ([("limit", "ten")], "limit must be a whole number"),
        ([("limit", "0")], "greater than or equal to 1"),
        ([("rate", "fast")], "is not a rate"),
    ],
)
def test_bad_replay_forms_say_why(values: list[tuple[str, str]], problem: str) -> None:
    with pytest.raises(FormError, match=problem):
        replay_request(MultiDict(values))


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "—"), (42, "42s"), (60 * 12 + 5, "12m"), (3600 * 3 + 300, "3h 5m"), (86400 * 2 + 7200, "2d 2h")],
)
def test_ages_read_at_a_glance(seconds: float | None, shown: str) -> None:
    assert age_text(seconds) == shown


def test_an_unmeasured_count_is_a_dash() -> None:
    assert (count_text(None), count_text(0)) == ("—", "0")
