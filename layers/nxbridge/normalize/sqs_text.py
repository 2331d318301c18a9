"""Text that SQS accepts: its message bodies may hold #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF only.

SQS refuses a whole SendMessageBatch entry for one character outside that set (U+FFFE, U+FFFF, a lone surrogate,
a control character), and no sender can fix that by retrying. The Unicode non-characters (U+FDD0-U+FDEF and the
last two code points of every plane) are removed too: they are for a program's internal use, never customer data.
"""

from __future__ import annotations

import re

_ALLOWED = "\t\n\r\x20-\ud7ff\ue000-\ufdcf\ufdf0-\ufffd" + "".join(
    f"{chr(plane << 16)}-{chr((plane << 16) | 0xFFFD)}" for plane in range(1, 17)
)
_REFUSED = re.compile(f"[^{_ALLOWED}]+")


def sqs_safe(text: str) -> str:
    """``text`` without the characters SQS refuses and without Unicode non-characters."""
    # The common case (nothing to remove) costs one search and no copy.
    return _REFUSED.sub("", text) if _REFUSED.search(text) else text
