"""Where the drain gets its NXCloud credentials: one Secrets Manager secret, cached across warm invocations."""

from __future__ import annotations

from typing import Protocol

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from pydantic import ValidationError

from nxbridge.contract.models import field_errors
from nxbridge.nxcloud.client import NXCloudCredentials


class CredentialsUnavailable(Exception):
    """The NXCloud secret could not be read or does not hold valid credentials."""


class CredentialsSource(Protocol):
    """Where the drain gets NXCloud credentials; ``refresh`` bypasses any cache."""

    def get(self, *, refresh: bool = False) -> NXCloudCredentials:
        """The current credentials; raise CredentialsUnavailable when there are none."""
        ...


class SecretCredentials:
    """NXCloud credentials from one Secrets Manager secret, cached across invocations by Powertools parameters."""

    def __init__(self, provider: SecretsProvider, secret_arn: str, max_age: int) -> None:
        self._provider = provider
        self._secret_arn = secret_arn
        self._max_age = max_age

    def get(self, *, refresh: bool = False) -> NXCloudCredentials:
        """The secret's credentials, from the cache unless ``refresh`` or the cache is older than ``max_age``."""
        try:
            raw = self._provider.get(self._secret_arn, max_age=self._max_age, transform="json", force_fetch=refresh)
            return NXCloudCredentials.model_validate(raw)
        except (GetParameterError, TransformParameterError) as exc:
            raise CredentialsUnavailable(f"cannot read the NXCloud secret: {type(exc).__name__}") from None
        except ValidationError as exc:
            fields = ", ".join(e.field for e in field_errors(exc))
            raise CredentialsUnavailable(f"the NXCloud secret lacks valid fields: {fields}") from None
