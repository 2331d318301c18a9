"""What an endpoint wants of its customers' phones and countries (the ``normalize`` object of its configuration)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from nxbridge.normalize.countries import CountryForm
from nxbridge.normalize.phones import SUPPORTED_REGIONS, Strictness


class NormalizePolicy(BaseModel):
    """Phone strictness, the forms of ``sms_phone`` and ``country``, and the region of national numbers.

    ``default_region`` (ISO 3166-1 alpha-2, e.g. ``FR``) reads a national number whose customer has no country in
    the payload; without it such a number cannot be made right and is dropped. ``phones``: ``possible`` keeps every
    number that can exist in its region, ``valid`` only numbers in ranges the region assigns, ``mobile`` also keeps
    numbers that cannot be mobile out of the messaging fields (``whats_app_phone``, ``viber_phone``, ``zalo``).
    ``sms_phone``: ``international`` (E.164 digits, like every other phone field) or ``national`` (the number as
    dialled inside its country, for accounts whose SMS routing wants it). ``country``: the English name NXCloud's
    API page uses (``China``) or the ISO code (``CN``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_region: str | None = None
    phones: Strictness = "possible"
    sms_phone: Literal["international", "national"] = "international"
    country: CountryForm = "name"

    @field_validator("default_region", mode="before")
    @classmethod
    def _known_region(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        region = value.strip().upper()
        if region not in SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 region with a numbering plan (e.g. FR, US)")
        return region
