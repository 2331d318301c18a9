"""Webhook sources: one adapter per kind (verify the signature, find the delivery id, map the payload to customers).

``source_for(kind)`` imports a kind's module on first use, so a function only pays for the kinds it serves.
"""

from nxbridge.sources.base import (
    BuiltCustomer,
    Candidate,
    DroppedContact,
    EventFacts,
    Ignored,
    InvalidPayload,
    MalformedPayload,
    PrivacyNotice,
    Problem,
    Source,
    WebhookRequest,
    build_customer,
    finalize,
    source_for,
)

__all__ = [
    "BuiltCustomer",
    "Candidate",
    "DroppedContact",
    "EventFacts",
    "Ignored",
    "InvalidPayload",
    "MalformedPayload",
    "PrivacyNotice",
    "Problem",
    "Source",
    "WebhookRequest",
    "build_customer",
    "finalize",
    "source_for",
]
