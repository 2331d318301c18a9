"""Where an import stands, kept where the next run finds it: one append-only journal per file and destination.

``~/.nxbridge/imports/<SHA-256 of the file>-<16 hex digits of queue URL + endpoint>.jsonl`` (``NXBRIDGE_HOME``
moves ``~/.nxbridge``). The first line names the import. Before each SendMessageBatch a ``sending`` line names the
records it carries; after it a ``through`` line says that every record up to a number is queued or rejected, with
the running totals. Each line is one ``write()`` on an ``O_APPEND`` descriptor, so a killed process leaves whole
lines; a torn last line (the machine itself crashed) is ignored. Appending costs a few microseconds a batch, where
rewriting a state file would cost a file creation and a rename.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

HOME_ENV = "NXBRIDGE_HOME"
VERSION = 1
# One encoder for every line: json.dumps with separators builds a new one per call (two lines a batch).
_LINE = json.JSONEncoder(separators=(",", ":"))


def journal_dir(env: Mapping[str, str]) -> Path:
    """Where journals live: ``$NXBRIDGE_HOME/imports``, by default ``~/.nxbridge/imports``."""
    home = env.get(HOME_ENV) or str(Path.home() / ".nxbridge")
    return Path(home) / "imports"


def journal_path(directory: Path, sha256: str, queue_url: str, endpoint: str) -> Path:
    """The journal of one file imported into one queue through one endpoint."""
    target = hashlib.sha256(f"{queue_url}\n{endpoint}".encode()).hexdigest()[:16]
    return directory / f"{sha256}-{target}.jsonl"


@dataclass(frozen=True)
class Standing:
    """What the journal says: every record up to ``through`` is done, except ``unsent`` ones SQS did not take."""

    through: int = 0
    unsent: frozenset[int] = frozenset()
    # The records of a batch being sent when the last run stopped: SQS may hold them already.
    sending: tuple[int, int] | None = None
    queued: int = 0
    rejected: int = 0
    complete: bool = False
    rejects: str | None = None
    rejects_bytes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def wants(self, number: int) -> bool:
        """Whether record ``number`` is still to be done."""
        return number > self.through or number in self.unsent


class JournalError(Exception):
    """The journal cannot be used (damaged, another file's, or held by another run)."""


class Journal:
    """The journal of one import, open for appending; ``standing`` is where the previous runs left it."""

    def __init__(self, path: Path, descriptor: int, standing: Standing) -> None:
        self.path = path
        self._descriptor = descriptor
        self.standing = standing

    @classmethod
    def open(cls, path: Path, header: Mapping[str, Any], *, restart: bool = False) -> Journal:
        """Open (or start) the journal at ``path``; JournalError when another run holds it or it is damaged."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if restart:
            path.unlink(missing_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            _lock(descriptor, path)
            standing = read_standing(path, header)
            _drop_torn_line(descriptor, path)
            journal = cls(path, descriptor, standing or Standing())
            if standing is None:
                journal._append({"v": VERSION, **header})
        except BaseException:
            os.close(descriptor)
            raise
        return journal

    def sending(self, first: int, last: int) -> None:
        """Say that records ``first`` to ``last`` are about to be sent."""
        self._append({"sending": [first, last]})

    def advance(self, standing: Standing) -> None:
        """Record a new standing (after a batch, or at the end)."""
        self.standing = replace(standing, sending=None)
        line: dict[str, Any] = {
            "through": standing.through,
            "queued": standing.queued,
            "rejected": standing.rejected,
            "unsent": sorted(standing.unsent),
            "rejects": standing.rejects,
            "rejects_bytes": standing.rejects_bytes,
        }
        if standing.complete:
            line["complete"] = True
        self._append(line)

    def close(self) -> None:
        """Release the journal."""
        os.close(self._descriptor)

    def _append(self, line: Mapping[str, Any]) -> None:
        os.write(self._descriptor, (_LINE.encode(line) + "\n").encode("utf-8"))


def read_standing(path: Path, header: Mapping[str, Any]) -> Standing | None:
    """Where the journal at ``path`` stands; None when it is empty; JournalError when it is not this import's."""
    lines = list(_lines(path))
    if not lines:
        return None
    first = lines[0]
    if first.get("sha256") != header.get("sha256") or first.get("v") != VERSION:
        raise JournalError(f"{path} belongs to another import: delete it or run with --restart")
    standing = Standing(extra=first)
    for line in lines[1:]:
        if "sending" in line:
            low, high = line["sending"]
            standing = replace(standing, sending=(int(low), int(high)))
        elif "through" in line:
            standing = Standing(
                through=int(line["through"]),
                unsent=frozenset(int(n) for n in line.get("unsent", [])),
                queued=int(line["queued"]),
                rejected=int(line["rejected"]),
                complete=bool(line.get("complete", False)),
                rejects=line.get("rejects"),
                rejects_bytes=int(line.get("rejects_bytes", 0)),
                extra=first,
            )
    return standing


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as stream:
        # The part after the last newline was being written when the machine stopped: it was never acted upon.
        complete = stream.read().split(b"\n")[:-1]
    for number, line in enumerate(complete, start=1):
        try:
            value = json.loads(line)
        except ValueError:
            raise JournalError(f"{path} is damaged at line {number}: delete it or run with --restart") from None
        if not isinstance(value, dict):
            raise JournalError(f"{path} is damaged at line {number}: delete it or run with --restart")
        yield value


def _drop_torn_line(descriptor: int, path: Path) -> None:
    """Cut a torn last line off, so that the next line appended starts a line of its own."""
    content = path.read_bytes()
    if content and not content.endswith(b"\n"):
        os.ftruncate(descriptor, content.rfind(b"\n") + 1)


def _lock(descriptor: int, path: Path) -> None:
    try:
        import fcntl  # noqa: PLC0415 - POSIX only; elsewhere two runs of one import are the operator's to avoid
    except ImportError:
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise JournalError(f"another run is importing this file into this queue now ({path})") from None
