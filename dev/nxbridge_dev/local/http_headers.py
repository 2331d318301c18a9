"""``http.client.parse_headers`` for the local stack's processes: the same message, without the email parser.

Both ends of every local HTTP exchange (moto's server reading a request, botocore reading moto's answer, the front
reading a webhook) parse the header block with ``email.parser``, which builds a feed parser and runs a regular
expression per line: about a tenth of the embedded AWS's CPU. Here a block of plain ``Name: value`` lines becomes
the HTTPMessage the email parser would make of it (same headers in the same order, same values, empty payload, no
defects); any other block (a folded line, a line that is no header, a name outside the email parser's characters,
a line break other than CRLF or LF) goes to the email parser itself.
"""

from __future__ import annotations

import email.parser
import http.client
import re
from typing import Any

# The characters the email parser takes in a header name (its headerRE: printable ASCII but the colon).
_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")
_END = (b"\r\n", b"\n", b"")
_read_headers = getattr(http.client, "_read_headers")  # noqa: B009 - the reader parse_headers uses, limits included
_email_parse_headers = http.client.parse_headers


def parse_headers(fp: Any, _class: type[http.client.HTTPMessage] = http.client.HTTPMessage) -> Any:
    """What ``http.client.parse_headers(fp, _class)`` returns (the same lines read from ``fp``, the same limits)."""
    lines: list[bytes] = _read_headers(fp)
    message = _plain(lines, _class)
    if message is None:
        text = b"".join(lines).decode("iso-8859-1")
        return email.parser.Parser(_class=_class).parsestr(text)
    return message


def _plain(lines: list[bytes], cls: type[http.client.HTTPMessage]) -> http.client.HTTPMessage | None:
    """The message of a block of plain header lines, None for any other block."""
    if not lines or lines[-1] not in _END:
        return None
    message = cls()
    headers: list[tuple[str, str]] = []
    for raw in lines[:-1]:
        line = raw.decode("iso-8859-1")
        if line.endswith("\r\n"):
            line = line[:-2]
        elif line.endswith("\n"):
            line = line[:-1]
        else:
            return None
        name, colon, value = line.partition(":")
        if not colon or "\r" in line or not _NAME.fullmatch(name):
            return None
        # compat32's header_source_parse: leading blanks of the value dropped, the line break too.
        headers.append((name, value.lstrip(" \t")))
    message._headers.extend(headers)  # type: ignore[attr-defined] # what the parser's set_raw appends to
    message.set_payload("")
    return message


def install() -> None:
    """Parse every header block of this process this way (http.server and http.client both call the module's)."""
    setattr(http.client, "parse_headers", parse_headers)  # noqa: B010 - typeshed's overloads are not this signature


def uninstall() -> None:
    """The email parser again."""
    http.client.parse_headers = _email_parse_headers
