"""NXCloud customers/batch_create contract: the customer, the batch request and the response.

The batch request and response (``nxbridge.contract.batch``) load with their first use: only the drain calls
NXCloud, so the ingest and the replay do not build them on every cold start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nxbridge.contract.models import (
    CONTACT_FIELDS,
    PHONE_LIKE_FIELDS,
    Customer,
    CustomerValidationError,
    FieldError,
    validate_customer,
)

if TYPE_CHECKING:
    from nxbridge.contract.batch import (
        BatchCreateRequest,
        BatchCreateResponse,
        BatchCreateResult,
        FailItem,
        SuccessItem,
    )

_BATCH = frozenset({"BatchCreateRequest", "BatchCreateResponse", "BatchCreateResult", "FailItem", "SuccessItem"})

__all__ = [
    "CONTACT_FIELDS",
    "PHONE_LIKE_FIELDS",
    "BatchCreateRequest",
    "BatchCreateResponse",
    "BatchCreateResult",
    "Customer",
    "CustomerValidationError",
    "FailItem",
    "FieldError",
    "SuccessItem",
    "validate_customer",
]


def __getattr__(name: str) -> Any:
    """A batch model, imported from ``nxbridge.contract.batch`` on first use."""
    if name not in _BATCH:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("nxbridge.contract.batch"), name)
    globals()[name] = value
    return value
