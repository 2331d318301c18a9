"""Countries in one form: the ISO 3166-1 table pycountry maintains (the Debian iso-codes data).

A customer's country is read from its alpha-2 or alpha-3 code, its short, official or common English name, in
any case. It is written either as the name the API page's example uses (``China``; the common name where the
standard's short name is a formal one: ``Vietnam``, ``South Korea``, ``Taiwan``) or as the alpha-2 code.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import pycountry

CountryForm = Literal["name", "iso"]


@lru_cache(maxsize=1024)
def country_code(value: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of a country name or code (``France``, ``fra``, ``FR``); None if unknown."""
    text = value.strip()
    if not text:
        return None
    try:
        country = pycountry.countries.lookup(text)
    except LookupError:
        return None
    code: str = country.alpha_2
    return code


@lru_cache(maxsize=512)
def country_text(code: str, form: CountryForm) -> str:
    """The country with alpha-2 ``code`` in ``form``: its English name, or the code itself."""
    if form == "iso":
        return code
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        raise LookupError(f"{code!r} is not an ISO 3166-1 alpha-2 code")
    name: str = getattr(country, "common_name", None) or country.name
    return name
