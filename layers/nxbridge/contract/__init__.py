"""NXCloud customers/batch_create contract: the customer, the batch request and the response."""

from nxbridge.contract.models import (
    CONTACT_FIELDS,
    PHONE_LIKE_FIELDS,
    BatchCreateRequest,
    BatchCreateResponse,
    BatchCreateResult,
    Customer,
    CustomerValidationError,
    FailItem,
    FieldError,
    SuccessItem,
    validate_customer,
)

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
