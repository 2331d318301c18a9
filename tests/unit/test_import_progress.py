"""The import's journal (what a resumed run trusts) and what a person reads at the end of a run."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from nxbridge.importer.cli import human_summary, progress_bar
from nxbridge.importer.importer import ImportSummary
from nxbridge.importer.progress import Journal, JournalError, Standing, journal_dir, journal_path

HEADER = {"sha256": "a" * 64, "file": "/data/customers_export.csv", "endpoint": "shopify"}


def test_journals_live_under_nxbridge_home_one_per_file_queue_and_endpoint(tmp_path: Path) -> None:
    directory = journal_dir({"NXBRIDGE_HOME": str(tmp_path)})
    assert directory == tmp_path / "imports"
    assert journal_dir({}) == Path.home() / ".nxbridge" / "imports"
    first = journal_path(directory, "a" * 64, "https://sqs/q1", "shopify")
    assert first.name.startswith("a" * 64 + "-")
    assert first != journal_path(directory, "a" * 64, "https://sqs/q2", "shopify")
    assert first != journal_path(directory, "a" * 64, "https://sqs/q1", "shop-eu")


def test_a_journal_reopened_stands_where_it_was_left_with_the_batch_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal.open(path, HEADER)
    journal.advance(Standing(through=20, queued=19, rejected=1, unsent=frozenset({7})))
    journal.sending(21, 30)
    journal.close()
    standing = Journal.open(path, HEADER).standing
    assert (standing.through, standing.queued, standing.rejected) == (20, 19, 1)
    assert standing.sending == (21, 30)
    assert standing.wants(7) and standing.wants(21) and not standing.wants(20)


def test_a_torn_last_line_is_ignored_and_a_damaged_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal.open(path, HEADER)
    journal.advance(Standing(through=10, queued=10))
    journal.close()
    with path.open("ab") as stream:
        stream.write(b'{"through": 20, "que')
    reopened = Journal.open(path, HEADER)
    assert reopened.standing.through == 10
    # What follows the torn line starts a line of its own.
    reopened.sending(11, 20)
    reopened.close()
    reread = Journal.open(path, HEADER)
    assert (reread.standing.through, reread.standing.sending) == (10, (11, 20))
    reread.close()
    path.write_bytes(path.read_bytes().replace(b'"through"', b'"thr', 1))
    with pytest.raises(JournalError, match="damaged at line 2"):
        Journal.open(path, HEADER)


def test_another_file_s_journal_is_refused_and_a_restart_forgets_it(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    Journal.open(path, HEADER).close()
    with pytest.raises(JournalError, match="belongs to another import"):
        Journal.open(path, {**HEADER, "sha256": "b" * 64})
    restarted = Journal.open(path, {**HEADER, "sha256": "b" * 64}, restart=True)
    restarted.close()
    assert restarted.standing == Standing()


def test_two_runs_of_one_import_at_once_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    first = Journal.open(path, HEADER)
    try:
        with pytest.raises(JournalError, match="another run is importing this file"):
            Journal.open(path, HEADER)
    finally:
        first.close()


def test_the_summary_says_what_happened_and_what_to_do_next() -> None:
    summary = ImportSummary(
        file="customers_export.csv",
        format="shopify-csv",
        endpoint="shopify",
        read=40,
        queued=20,
        rejected=2,
        skipped=8,
        not_queued=10,
        resent=10,
        dropped={"phone_not_possible": 1},
        journal="/home/op/.nxbridge/imports/x.jsonl",
    )
    assert human_summary(summary).splitlines() == [
        "40 rows read: queued 20, rejected 2, skipped 8 (already imported)",
        "give --rejects REJECTS.csv to see the rejected rows with the column and the reason",
        "values left out of valid customers: phone_not_possible 1",
        "10 rows sent again: the last run stopped while sending them",
        "10 rows not queued (SQS did not take them): run the same command again",
        "progress: /home/op/.nxbridge/imports/x.jsonl",
    ]


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as an operator's stderr does."""

    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_with_rows_per_second_ending_full_and_a_pipe_none() -> None:
    summary = ImportSummary(file="f.csv", format="csv", endpoint="standard")
    screen = Terminal()
    with progress_bar(screen, 50) as update:
        assert update is not None
        for _ in range(40):
            summary.read += 1
            update(summary)
    assert "rows/s" in screen.getvalue()
    assert screen.getvalue().rstrip().endswith("rows/s]") and "40/40" in screen.getvalue().splitlines()[-1]
    with progress_bar(io.StringIO(), 50) as none:
        assert none is None
