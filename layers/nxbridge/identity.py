"""Whose customer a record is: the identities newest-wins (``nxbridge.ordering``) and privacy notices key on.

Apart from the watermarks so that the ingest, which only names identities, does not load the DynamoDB machinery.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nxbridge.contract import Customer
    from nxbridge.envelope import Envelope

# The contact fields that stand for a customer without a source id or an e-mail, in this order.
PHONE_FIELDS = ("sms_phone", "whats_app_phone", "viber_phone")


def customer_identity(endpoint: str, customer_id: str | None, customer: Customer) -> str | None:
    """Whose customer this is: the endpoint and the source's id, else the e-mail (lower-case), else phone digits."""
    if customer_id:
        return f"{endpoint}:id:{customer_id}"
    if customer.email:
        return email_identity(customer.email)
    phone = next((getattr(customer, name) for name in PHONE_FIELDS if getattr(customer, name)), None)
    return phone_identity(phone) if phone else None


def email_identity(email: str) -> str:
    """The identity of a customer known by its e-mail."""
    return f"email:{email.strip().lower()}"


def phone_identity(phone: str) -> str | None:
    """The identity of a customer known by its phone (digits only), or None when it holds no digit."""
    digits = "".join(c for c in phone if c.isascii() and c.isdigit())
    return f"phone:{digits}" if digits else None


def identities_of(envelope: Envelope) -> frozenset[str]:
    """Every identity the envelope's customer can be known by: its own, its e-mail's and its phones'."""
    customer = envelope.customer
    found = {envelope.identity, email_identity(customer.email) if customer.email else None}
    found.update(phone_identity(getattr(customer, name)) for name in PHONE_FIELDS if getattr(customer, name))
    return frozenset(identity for identity in found if identity)


def identity_hash(identity: str) -> str:
    """SHA-256 hex of an identity: what keys, filters and log lines carry instead of the identity (PII)."""
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()
