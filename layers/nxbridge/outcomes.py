"""What a webhook request that is not refused comes to, and the answer the ingest sends back.

The pipeline returns an ``Outcome`` (or raises a ``nxbridge.rejections.Rejection``); ``nxbridge.ingest.answers``
turns either into a ``WebhookResponse``, and form endpoints reshape that for a browser (``nxbridge.forms``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any

from nxbridge.record import Record
from nxbridge.sources import Ignored


class WebhookResponse(Record):
    """What to answer: status, JSON body, extra headers; ``text`` (a page, or empty) is sent instead of the JSON."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    text: str | None = None


class Accepted(Record):
    """Every customer of the delivery is queued."""

    count: int


class Duplicate(Record):
    """The delivery was already accepted; nothing is queued again."""


class Ping(Record):
    """A provider's test delivery, acknowledged."""


class HeldBack(Record):
    """A post held back without telling the sender (a filled honeypot): answered like an accepted one."""

    reason: str


class Acknowledged(Record):
    """A privacy request (``topic``) received and acted on for what the bridge holds; nothing is queued."""

    topic: str


Outcome = Accepted | Duplicate | Ignored | Ping | HeldBack | Acknowledged
