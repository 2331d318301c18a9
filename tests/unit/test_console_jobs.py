"""The console's background replay jobs: what sees a job, in which order."""

from __future__ import annotations

from collections.abc import Callable

from nxbridge.console.jobs import Jobs, ReplayJob
from nxbridge.replay import ReplaySummary


def test_the_start_is_seen_before_the_body_runs_and_the_end_after_it() -> None:
    seen: list[str] = []

    def body(progress: Callable[[ReplaySummary], None], should_stop: Callable[[], bool]) -> ReplaySummary:
        seen.append("body")
        return ReplaySummary()

    def started(job: ReplayJob) -> None:
        seen.append("started")

    def ended(job: ReplayJob) -> None:
        seen.append("ended")

    # The body cannot overtake the start's record (the console's audit once wrote "finished" before "started").
    for _ in range(50):
        seen.clear()
        job = Jobs().start(1, body, ended, started)
        assert job.finished.wait(5)
        assert seen == ["started", "body", "ended"]
