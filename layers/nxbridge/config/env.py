"""What every function's settings share: a frozen model read from the environment, where empty means unset."""

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict

NXCloudType = Literal[0, 1, 2]


def type_from_text(value: object) -> object:
    """An environment value for an NXCloudType field: "0", "1" or "2" as the int."""
    # Environment variables are strings and a Literal of ints does not coerce "1".
    return int(value) if isinstance(value, str) and value.strip() in ("0", "1", "2") else value


class EnvSettings(BaseModel):
    """Settings read once from the environment (the template sets it; the local stack too)."""

    # A base, never validated itself: deferred, so that it gets no validator of its own. A function's own settings
    # (IngestSettings, DrainSettings, ReplaySettings) set defer_build back to False: each one's first call reads them.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None):  # type: ignore[no-untyped-def]
        """Build the settings from ``env`` (default: os.environ); empty variables count as unset."""
        source = os.environ if env is None else env
        return cls.model_validate({k: v for k, v in source.items() if v != ""})
