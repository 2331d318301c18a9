"""Webhook sources: one adapter per kind (verify the signature, find the delivery id, map the payload to customers).

``source_for(kind)`` imports a kind's module on first use, so a function only pays for the kinds it serves.
"""

from nxbridge.sources.base import (
    Candidate,
    Ignored,
    InvalidPayload,
    MalformedPayload,
    Problem,
    Source,
    WebhookRequest,
    finalize,
    source_for,
)

__all__ = [
    "Candidate",
    "Ignored",
    "InvalidPayload",
    "MalformedPayload",
    "Problem",
    "Source",
    "WebhookRequest",
    "finalize",
    "source_for",
]
