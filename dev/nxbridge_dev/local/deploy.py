"""Deploy the packaged template into the embedded AWS as ``sam deploy`` does, and read the stack back from it.

Everything the local stack runs with comes from what this module reads back: each function's environment,
timeout and memory, the SQS event source mapping's batching, the HTTP API's routes, the queues and the outputs.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from nxbridge_dev.local.aws import LocalAws
from nxbridge_dev.local.template import CODE_BUCKET, CODE_KEY, PackagedTemplate

STACK_NAME = "nxbridge"
# The template's IAM roles carry no custom names; `sam deploy --capabilities CAPABILITY_IAM` (samconfig.toml).
CAPABILITIES = ["CAPABILITY_IAM"]
_LAMBDA_INTEGRATION = re.compile(r":lambda:path/[^/]+/functions/(?P<arn>arn:[^/]+)/invocations$")


class DeployError(Exception):
    """The stack was not created; the message is CloudFormation's reason (failed resources and why)."""


@dataclass(frozen=True)
class DeployedFunction:
    """A Lambda function of the stack as its configuration reads back."""

    logical_id: str
    name: str
    arn: str
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, str]


@dataclass(frozen=True)
class SqsEventSource:
    """The stack's SQS event source mapping: which queue feeds which function, and how."""

    function_arn: str
    queue_arn: str
    batch_size: int
    batching_window_seconds: float
    maximum_concurrency: int | None
    report_batch_item_failures: bool


@dataclass(frozen=True)
class ApiRoute:
    """One route of an HTTP API and the function its Lambda proxy integration invokes."""

    api_id: str
    method: str
    path: str
    function_arn: str
    payload_format_version: str


@dataclass(frozen=True)
class Deployment:
    """The created stack, read back from the embedded AWS."""

    stack_name: str
    endpoint_url: str
    region: str
    outputs: dict[str, str]
    # Logical id -> (resource type, physical id).
    resources: dict[str, tuple[str, str]]
    functions: dict[str, DeployedFunction]
    event_source: SqsEventSource
    routes: list[ApiRoute]
    # The event source's queue and the dead-letter queue of its redrive policy.
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    max_receive_count: int
    visibility_timeout: int

    def function(self, arn: str) -> DeployedFunction:
        """The function with this ARN."""
        for function in self.functions.values():
            if function.arn == arn:
                return function
        raise DeployError(f"stack {self.stack_name} has no function {arn}")


def parameter_errors(declared: Mapping[str, Mapping[str, Any]], values: Mapping[str, str]) -> list[str]:
    """CloudFormation's objections to ``values`` for the ``declared`` parameters; empty when it would accept them."""
    errors: list[str] = []
    unknown = sorted(set(values) - set(declared))
    if unknown:
        errors.append(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    missing = sorted(name for name, spec in declared.items() if name not in values and "Default" not in spec)
    if missing:
        errors.append(f"Parameters: [{', '.join(missing)}] must have values")
    for name in sorted(set(values) & set(declared)):
        errors += _value_errors(name, declared[name], values[name])
    return errors


def _value_errors(name: str, spec: Mapping[str, Any], value: str) -> list[str]:
    errors: list[str] = []
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [_text(v) for v in allowed]:
        errors.append(f"Parameter '{name}' must be one of AllowedValues")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(pattern, value) is None:
        errors.append(f"Parameter '{name}' must match pattern {pattern}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        errors.append(f"Parameter '{name}' must contain at least {spec['MinLength']} characters")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        errors.append(f"Parameter '{name}' must not contain more than {spec['MaxLength']} characters")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return [*errors, f"Parameter '{name}' must be a number"]
        if not math.isfinite(number):
            errors.append(f"Parameter '{name}' must be a number")
        elif "MinValue" in spec and number < float(spec["MinValue"]):
            errors.append(f"Parameter '{name}' must be a number not less than {spec['MinValue']}")
        elif "MaxValue" in spec and number > float(spec["MaxValue"]):
            errors.append(f"Parameter '{name}' must be a number not greater than {spec['MaxValue']}")
    return errors


def deploy(
    aws: LocalAws, template: PackagedTemplate, parameters: Mapping[str, str], *, stack_name: str = STACK_NAME
) -> Deployment:
    """Create the stack from ``template`` with ``parameters`` (``--parameter-overrides``); DeployError if it fails."""
    errors = parameter_errors(template.declared_parameters(), parameters)
    if errors:
        raise DeployError(f"stack {stack_name} was not created: " + "; ".join(errors))
    _upload_placeholder_code(aws)
    cloudformation = aws.client("cloudformation")
    try:
        cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=template.body,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())],
            Capabilities=CAPABILITIES,
        )
    except ClientError as exc:
        raise DeployError(_failure_report(aws, stack_name, exc)) from None
    status = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
    if status != "CREATE_COMPLETE":
        raise DeployError(f"stack {stack_name} is {status}")
    try:
        return read_deployment(aws, stack_name)
    except (BotoCoreError, ClientError, ValueError, KeyError) as exc:
        # moto accepts some values CloudFormation would refuse (a MemorySize of "lots") and then cannot serve them.
        raise DeployError(f"stack {stack_name} was created but does not read back: {exc!r}") from None


def _upload_placeholder_code(aws: LocalAws) -> None:
    """The object every function's and layer's code points at: the handlers themselves run from the checkout."""
    s3 = aws.client("s3")
    location = {} if aws.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": aws.region}}
    s3.create_bucket(Bucket=CODE_BUCKET, **location)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as code:
        code.writestr("README", "The local stack runs the handlers from the checkout (nxbridge.handlers).\n")
    s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=archive.getvalue())


def _failure_report(aws: LocalAws, stack_name: str, error: ClientError) -> str:
    """What ``describe-stack-events`` says failed, or CloudFormation's answer when no resource was tried."""
    message = error.response.get("Error", {}).get("Message") or str(error)
    try:
        events = aws.client("cloudformation").describe_stack_events(StackName=stack_name)["StackEvents"]
    except ClientError:
        return f"stack {stack_name} was not created: {message}"
    failed = [
        f"{e['LogicalResourceId']} ({e.get('ResourceType', '?')}): {e.get('ResourceStatusReason', '')}"
        for e in events
        if e.get("ResourceStatus") == "CREATE_FAILED"
    ]
    if not failed:
        return f"stack {stack_name} was not created: {message}"
    return f"stack {stack_name} is ROLLBACK_COMPLETE; CREATE_FAILED: " + "; ".join(failed)


def read_deployment(aws: LocalAws, stack_name: str = STACK_NAME) -> Deployment:
    """The stack's outputs, resources, functions, SQS event source and routes, as the embedded AWS has them."""
    cloudformation = aws.client("cloudformation")
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    resources: dict[str, tuple[str, str]] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for summary in page["StackResourceSummaries"]:
            resources[summary["LogicalResourceId"]] = (summary["ResourceType"], summary.get("PhysicalResourceId", ""))
    lambda_ = aws.client("lambda")
    functions = {
        logical_id: _function(lambda_, logical_id, physical_id)
        for logical_id, (kind, physical_id) in resources.items()
        if kind == "AWS::Lambda::Function"
    }
    sources = [
        _event_source(lambda_.get_event_source_mapping(UUID=physical_id))
        for kind, physical_id in resources.values()
        if kind == "AWS::Lambda::EventSourceMapping"
    ]
    sqs_sources = [source for source in sources if source.queue_arn.startswith("arn:aws:sqs:")]
    if len(sqs_sources) != 1:
        raise DeployError(f"stack {stack_name} has {len(sqs_sources)} SQS event sources; the local stack polls one")
    [event_source] = sqs_sources
    routes = [
        route
        for kind, physical_id in resources.values()
        if kind == "AWS::ApiGatewayV2::Api"
        for route in _routes(aws.client("apigatewayv2"), physical_id)
    ]
    sqs = aws.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=event_source.queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
    if "deadLetterTargetArn" not in redrive:
        raise DeployError(f"stack {stack_name}: the event source's queue has no redrive policy (dead-letter queue)")
    dlq_arn = str(redrive["deadLetterTargetArn"])
    return Deployment(
        stack_name=stack_name,
        endpoint_url=aws.endpoint_url,
        region=aws.region,
        outputs=outputs,
        resources=resources,
        functions=functions,
        event_source=event_source,
        routes=routes,
        queue_url=queue_url,
        queue_arn=event_source.queue_arn,
        dlq_url=sqs.get_queue_url(QueueName=dlq_arn.rsplit(":", 1)[-1])["QueueUrl"],
        dlq_arn=dlq_arn,
        max_receive_count=int(redrive["maxReceiveCount"]),
        visibility_timeout=int(attributes["VisibilityTimeout"]),
    )


def _function(lambda_: Any, logical_id: str, name: str) -> DeployedFunction:
    config = lambda_.get_function_configuration(FunctionName=name)
    variables = config.get("Environment", {}).get("Variables", {})
    return DeployedFunction(
        logical_id=logical_id,
        name=config["FunctionName"],
        arn=config["FunctionArn"],
        timeout_seconds=int(config["Timeout"]),
        memory_mb=int(config["MemorySize"]),
        environment={key: _text(value) for key, value in variables.items()},
    )


def _event_source(mapping: Mapping[str, Any]) -> SqsEventSource:
    concurrency = mapping.get("ScalingConfig", {}).get("MaximumConcurrency")
    return SqsEventSource(
        function_arn=str(mapping["FunctionArn"]),
        queue_arn=str(mapping["EventSourceArn"]),
        batch_size=int(mapping.get("BatchSize", 10)),
        batching_window_seconds=float(mapping.get("MaximumBatchingWindowInSeconds", 0)),
        maximum_concurrency=None if concurrency is None else int(concurrency),
        report_batch_item_failures="ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", []),
    )


def _routes(apigateway: Any, api_id: str) -> list[ApiRoute]:
    integrations = {i["IntegrationId"]: i for i in apigateway.get_integrations(ApiId=api_id)["Items"]}
    routes: list[ApiRoute] = []
    for route in apigateway.get_routes(ApiId=api_id)["Items"]:
        integration = integrations.get(str(route.get("Target", "")).removeprefix("integrations/"), {})
        match = _LAMBDA_INTEGRATION.search(str(integration.get("IntegrationUri", "")))
        if match is None:
            continue
        method, _, path = route["RouteKey"].partition(" ")
        routes.append(ApiRoute(api_id, method, path, match["arn"], str(integration.get("PayloadFormatVersion", "2.0"))))
    return routes


def _text(value: Any) -> str:
    """An environment or parameter value as Lambda and CloudFormation hold it (booleans lower-case, like SAM)."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
