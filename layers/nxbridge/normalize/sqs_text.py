"""Text that SQS accepts: its message bodies may hold #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF only.

SQS refuses a whole SendMessageBatch entry for one character outside that set (U+FFFE, U+FFFF, a lone surrogate,
a control character), and no sender can fix that by retrying. The Unicode non-characters (U+FDD0-U+FDEF and the
last two code points of every plane) are removed too: they are for a program's internal use, never customer data.
"""

from __future__ import annotations

import re
from functools import cache

# Every refused character is unprintable (a control, a surrogate, a non-character): printable text, the common
# case, needs one pass of str.isprintable and no regular expression, so the expressions are compiled when first
# needed, not on every cold start (half a millisecond). Astral non-characters are looked for only in text that has
# astral characters.


@cache
def _refused_bmp() -> re.Pattern[str]:
    return re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]+")


@cache
def _refused_astral() -> re.Pattern[str]:
    return re.compile(
        "[" + "".join(chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(1, 17)) + "]+"
    )


def sqs_safe(text: str) -> str:
    """``text`` without the characters SQS refuses and without Unicode non-characters."""
    if text.isprintable():
        return text
    text = _refused_bmp().sub("", text)
    if _has_astral(text):
        text = _refused_astral().sub("", text)
    return text


def _has_astral(text: str) -> bool:
    # Characters above U+FFFF take two UTF-16 code units (the lone surrogates are gone by now).
    return len(text.encode("utf-16-le")) > 2 * len(text)
