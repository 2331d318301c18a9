"""Replays started from the console run in a background thread; their page shows the live summary."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from nxbridge.replay import ReplaySummary

# What a job runs: the replay itself, given where to report progress and how to learn of a stop request.
JobBody = Callable[[Callable[[ReplaySummary], None], Callable[[], bool]], ReplaySummary]


@dataclass
class ReplayJob:
    """One replay run: how many records it was confirmed for, its latest summary, and whether it has ended."""

    id: str
    confirmed: int
    summary: ReplaySummary = field(default_factory=ReplaySummary)
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def progress(self, summary: ReplaySummary) -> None:
        """Keep a copy of the summary so far (the replayer goes on changing its own)."""
        with self._lock:
            self.summary = summary.model_copy(deep=True)

    def snapshot(self) -> ReplaySummary:
        """The latest summary."""
        with self._lock:
            return self.summary.model_copy(deep=True)


class Jobs:
    """The console's replay jobs; at most one runs at a time, because two scans of one DLQ hide records from
    each other."""

    def __init__(self) -> None:
        self._jobs: dict[str, ReplayJob] = {}
        self._lock = threading.Lock()

    def running(self) -> ReplayJob | None:
        """The job still running, if any."""
        with self._lock:
            return next((job for job in self._jobs.values() if not job.finished.is_set()), None)

    def get(self, job_id: str) -> ReplayJob | None:
        """A job by id."""
        with self._lock:
            return self._jobs.get(job_id)

    def start(
        self,
        confirmed: int,
        body: JobBody,
        on_end: Callable[[ReplayJob], None],
        on_start: Callable[[ReplayJob], None] = lambda _job: None,
    ) -> ReplayJob:
        """Run ``body`` in a thread; ``on_start`` sees the job before the thread starts (so an audit line of the start
        always comes before the end's), ``on_end`` once it has its final summary or error."""
        with self._lock:
            if any(not job.finished.is_set() for job in self._jobs.values()):
                raise RuntimeError("a replay is already running; wait for it or stop it first")
            job = ReplayJob(id=secrets.token_hex(8), confirmed=confirmed)
            self._jobs[job.id] = job

        def run() -> None:
            try:
                job.progress(body(job.progress, job.stop_requested.is_set))
            except Exception as exc:
                # The page reports any failure; a thread that dies silently would leave the job running forever.
                job.error = f"{type(exc).__name__}: {exc}"
            finally:
                on_end(job)
                job.finished.set()

        on_start(job)
        threading.Thread(target=run, name=f"console-replay-{job.id}", daemon=True).start()
        return job
