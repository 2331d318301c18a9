"""What ``nxbridge dlq`` shows an operator: tables, JSON, ages, the replay progress bar and summary, Ctrl-C."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import IO, Any

from nxbridge.replay.replayer import ReplaySummary


def say(stream: IO[str], text: str) -> None:
    """Write one line and flush it (the operator may be watching a pipe)."""
    stream.write(text + "\n")
    stream.flush()


def dump(stream: IO[str], value: Any, *, indent: int | None = None) -> None:
    """Write ``value`` as one JSON document."""
    say(stream, json.dumps(value, ensure_ascii=False, indent=indent, default=str))


def table(rows: list[list[str]], headers: list[str]) -> str:
    """Left-aligned columns, as wide as their widest cell."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def age(moment: dt.datetime) -> str:
    """How long ago ``moment`` was, in its largest whole unit (3d, 5h, 12m, 40s)."""
    seconds = max(0, int((dt.datetime.now(dt.UTC) - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class ProgressBar:
    """A one-line progress bar on a terminal (stderr); no dependency.

    With a limit it counts matching records towards it, otherwise scanned records towards the DLQ's size.
    """

    WIDTH = 30

    def __init__(self, stream: IO[str], total: int | None, *, count_matched: bool) -> None:
        self.stream = stream
        self.total = total
        self.count_matched = count_matched

    def update(self, summary: ReplaySummary) -> None:
        """Redraw the bar for the records handled so far."""
        done = summary.matched if self.count_matched else summary.scanned
        if self.total:
            filled = min(self.WIDTH, self.WIDTH * done // self.total)
            bar = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{self.total}"
        else:
            bar = f"{done} scanned"
        verb = "would replay" if summary.dry_run else "replayed"
        count = summary.would_replay if summary.dry_run else summary.replayed
        self.stream.write(f"\r{bar}  {verb} {count}  refused {summary.refused}  duplicates {summary.duplicates}")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        self.stream.write("\n")
        self.stream.flush()


@contextlib.contextmanager
def stop_requests(err: IO[str]) -> Iterator[Callable[[], bool]]:
    """Turn the first Ctrl-C/SIGTERM into a stop request honoured between records; a second one aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    requested = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()
        err.write("\nstopping after the record in flight (press Ctrl-C again to abort at once)\n")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested.is_set
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def human_summary(summary: ReplaySummary) -> str:
    """A replay's outcome for a person: the counts, then one line per record that needs attention."""
    done = f"would replay {summary.would_replay}" if summary.dry_run else f"replayed {summary.replayed}"
    lines = [
        f"{done}, refused {summary.refused}, duplicates {summary.duplicates}, back in the DLQ {summary.back_in_dlq}, "
        f"failed {summary.failed} "
        f"(scanned {summary.scanned}, matched {summary.matched}, released {summary.released})"
    ]
    if summary.interrupted:
        lines.append("interrupted: the records not handled are back in the DLQ")
    lines += [f"{p.status:<16} {p.message_id}  {p.reason or ''}" for p in summary.problems]
    if summary.sent_not_deleted:
        lines.append(
            "these were sent but are still in the DLQ; delete them with "
            "`nxbridge dlq purge --id ID --yes` once the sent copy is processed: " + ", ".join(summary.sent_not_deleted)
        )
    return "\n".join(lines)
