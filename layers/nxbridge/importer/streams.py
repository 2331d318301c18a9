"""Reading an import file: its identity, its text as a platform or Excel saved it, and JSON arrays value by value."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

CHUNK_BYTES = 1 << 20
# Enough for a few customers: a window of text is decoded while the next one is read.
JSON_WINDOW_CHARS = 1 << 16
# What must follow a decoded value in the window for it to be surely whole (a number may go on in the next one).
_LOOKAHEAD_CHARS = 64
_BLANK = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class LayoutError(Exception):
    """The file is not of the format's layout; the message says what was expected and what was found."""


@dataclass(frozen=True)
class FileFacts:
    """What one pass over the bytes tells: the SHA-256 (the file's identity), its size, and a count of ``marker``."""

    sha256: str
    size: int
    marks: int


def examine(path: Path, marker: bytes) -> FileFacts:
    """Hash the file and count ``marker`` (newlines: about one per customer) in one streaming pass."""
    digest = hashlib.sha256()
    size = marks = 0
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
            marks += chunk.count(marker)
    return FileFacts(digest.hexdigest(), size, marks)


def open_text(path: Path) -> IO[str]:
    """The file as text: UTF-8 with or without a byte order mark, any line ending (the csv module reads CRLF)."""
    return io.open(path, encoding="utf-8-sig", newline="")  # noqa: UP020 - io.open says "text from bytes" here


class JsonArrays:
    """The elements of the JSON arrays in a text stream, one at a time with their source text.

    Several arrays one after the other (pages of a REST API concatenated) are read as one list; a lone object is
    one element. The text is decoded window by window with ``json.JSONDecoder.raw_decode``, so memory holds one
    window and the element being read, whatever the size of the file.
    """

    def __init__(self, stream: IO[str], window: int = JSON_WINDOW_CHARS) -> None:
        self._stream = stream
        self._window = window
        self._text = ""
        self._at = 0
        self._ended = False

    def __iter__(self) -> Iterator[tuple[Any, str]]:
        while (start := self._next_char()) is not None:
            if start != "[":
                yield self._value()
                continue
            self._at += 1
            if self._next_char() == "]":
                self._at += 1
                continue
            while True:
                yield self._value()
                after = self._next_char()
                self._at += 1
                if after == "]":
                    break
                if after != ",":
                    raise LayoutError(f"not a JSON array: expected ',' or ']' after element, found {after!r}")

    def _more(self) -> bool:
        chunk = self._stream.read(self._window)
        if not chunk:
            self._ended = True
            return False
        self._text = self._text[self._at :] + chunk
        self._at = 0
        return True

    def _next_char(self) -> str | None:
        """The next character that is not blank (the position stays on it), or None at the end of the stream."""
        while True:
            self._at = _BLANK.match(self._text, self._at).end()  # type: ignore[union-attr]
            if self._at < len(self._text):
                return self._text[self._at]
            if not self._more():
                return None

    def _value(self) -> tuple[Any, str]:
        if self._next_char() is None:
            raise LayoutError("not valid JSON: the file ends inside an array")
        while True:
            try:
                value, end = _DECODER.raw_decode(self._text, self._at)
            except json.JSONDecodeError as exc:
                # Most often the window ends inside the element: read on. At the end of the stream it is broken.
                if self._ended or not self._more():
                    raise LayoutError(
                        f"not valid JSON: {exc.msg} (character {exc.pos - self._at} of an element)"
                    ) from None
                continue
            if len(self._text) - end < _LOOKAHEAD_CHARS and not self._ended and self._more():
                continue  # a number or literal that ends near the window's end may go on in the next one
            text = self._text[self._at : end]
            self._at = end
            return value, text
