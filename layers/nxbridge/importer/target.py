"""Where an import goes: the CustomersQueue URL and the endpoint, from a stack's outputs, flags or the environment.

``--stack`` reads the stack's ``QueueUrl`` and ``EndpointsParameterName`` outputs and the parameter from SSM, as
``nxbridge dlq`` finds its queues; ``--queue-url`` and ``--endpoints-file`` name them directly (and win over the
stack). Without either, ``QUEUE_URL`` and ``ENDPOINTS_FILE`` / ``ENDPOINTS_PARAMETER`` are read, as the ingest
function reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from nxbridge.endpoints import Endpoint, parse_endpoints
from nxbridge.replay.errors import ReplayError
from nxbridge.replay.queues import QUEUE_OUTPUT_FRAGMENT, QUEUE_OUTPUT_KEY, output, stack_outputs

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

# template.yaml's output naming the SSM parameter that holds the endpoint configuration.
ENDPOINTS_OUTPUT_KEY = "EndpointsParameterName"
ENDPOINTS_OUTPUT_FRAGMENT = "endpointsparameter"


class Clients:
    """The AWS clients an import uses, each created on first use; tests pass moto-backed ones."""

    def __init__(
        self,
        *,
        sqs: Callable[[], SQSClient],
        ssm: Callable[[], SSMClient],
        cloudformation: Callable[[], CloudFormationClient],
    ) -> None:
        self._factories = {"sqs": sqs, "ssm": ssm, "cloudformation": cloudformation}
        self._made: dict[str, object] = {}

    def _get(self, name: str) -> object:
        if name not in self._made:
            self._made[name] = self._factories[name]()
        return self._made[name]

    @property
    def sqs(self) -> SQSClient:
        """The SQS client."""
        return self._get("sqs")  # type: ignore[return-value]

    @property
    def ssm(self) -> SSMClient:
        """The SSM client (the endpoint configuration parameter)."""
        return self._get("ssm")  # type: ignore[return-value]

    @property
    def cloudformation(self) -> CloudFormationClient:
        """The CloudFormation client (``--stack``)."""
        return self._get("cloudformation")  # type: ignore[return-value]


@dataclass(frozen=True)
class Target:
    """The queue an import fills (None: a dry run without one) and the endpoint whose rules apply."""

    queue_url: str | None
    endpoint: Endpoint


@dataclass(frozen=True)
class Where:
    """What the operator named: a stack, a queue URL, an endpoints file (each may be None)."""

    stack: str | None
    queue_url: str | None
    endpoints_file: str | None


def find_target(where: Where, endpoint_name: str, clients: Clients, env: Mapping[str, str]) -> Target:
    """The queue URL and the named endpoint; ReplayError says what is missing or wrong."""
    queue_url, endpoints_file = where.queue_url, where.endpoints_file
    parameter: str | None = None
    if where.stack is not None:
        outputs = stack_outputs(clients.cloudformation, where.stack)
        queue_url = queue_url or output(outputs, QUEUE_OUTPUT_KEY, QUEUE_OUTPUT_FRAGMENT)
        parameter = output(outputs, ENDPOINTS_OUTPUT_KEY, ENDPOINTS_OUTPUT_FRAGMENT)
        if endpoints_file is None and parameter is None:
            raise ReplayError(f"stack {where.stack!r} has no {ENDPOINTS_OUTPUT_KEY} output")
    queue_url = queue_url or env.get("QUEUE_URL") or None
    if endpoints_file is None and parameter is None:
        endpoints_file = env.get("ENDPOINTS_FILE") or None
        parameter = env.get("ENDPOINTS_PARAMETER") or None
    if endpoints_file is not None:
        raw = Path(endpoints_file).read_text(encoding="utf-8")
    elif parameter is not None:
        raw = _parameter(clients.ssm, parameter)
    else:
        raise ReplayError("no endpoint configuration: give --stack or --endpoints-file (or set ENDPOINTS_FILE)")
    endpoint = parse_endpoints(raw).get(endpoint_name)
    if endpoint is None:
        raise ReplayError(f"no endpoint named {endpoint_name!r} in the endpoint configuration")
    return Target(queue_url, endpoint)


def _parameter(ssm: SSMClient, name: str) -> str:
    try:
        return ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as exc:
        raise ReplayError(f"cannot read the endpoint configuration parameter {name!r}: {exc}") from None
