"""What the local stack adds to moto's CloudFormation so that template.yaml deploys as it does in AWS.

moto creates most of the template's resource types itself. For the five it lacks (Secrets Manager secrets, the
HTTP API and its stage, CloudWatch alarms and dashboards) the models below create the resource in moto's own
backend, so that Refs resolve and the resources can be read back. moto skips a type it does not know and turns
a resource that fails into a bare server error; :func:`install` makes both what CloudFormation reports: the resource
``CREATE_FAILED`` with its reason in the stack's events, the stack ``ROLLBACK_COMPLETE``. It also reads a JSON
template with json rather than PyYAML.

Each model repeats moto's small protocol (type, name property, Ref, ``is_created``) on purpose: moto registers
only the direct subclasses of ``CloudFormationModel`` (``parsing.get_model_list``), so a shared base class would
silently unregister them.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from moto.apigatewayv2.models import apigatewayv2_backends
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import Event, Stack, cloudformation_backends
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.secretsmanager.models import secretsmanager_backends

_install_lock = threading.Lock()
_installed = False


class ResourceFailed(ValidationError):
    """A resource could not be created; CreateStack answers with this (a ValidationError, as moto's own)."""


class _NoOutputs(dict[str, Any]):
    """What a rolled-back stack has instead of its outputs (CloudFormation shows none; resolving them would retry
    the failed resource)."""

    exports: list[Any] = []


class SecretModel(CloudFormationModel):
    """AWS::SecretsManager::Secret, with GenerateSecretString; its Ref is the ARN."""

    def __init__(self, arn: str) -> None:
        self.arn = arn

    @property
    def physical_resource_id(self) -> str:
        """The secret's ARN, what ``!Ref`` gives."""
        return self.arn

    @staticmethod
    def cloudformation_name_type() -> str:
        """The property that names the resource."""
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        """The resource type this model creates."""
        return "AWS::SecretsManager::Secret"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        """``!GetAtt Secret.Id`` is the ARN."""
        return attr == "Id"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        """The value of ``!GetAtt``."""
        return self.arn

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> SecretModel:
        """Create the secret, generating its value as Secrets Manager does."""
        properties = cloudformation_json.get("Properties", {})
        backend = secretsmanager_backends[account_id][region_name]
        value = properties.get("SecretString")
        generate = properties.get("GenerateSecretString")
        if generate is not None:
            password = backend.get_random_password(
                password_length=int(generate.get("PasswordLength", 32)),
                exclude_characters=generate.get("ExcludeCharacters", ""),
                exclude_numbers=bool(generate.get("ExcludeNumbers", False)),
                exclude_punctuation=bool(generate.get("ExcludePunctuation", False)),
                exclude_uppercase=bool(generate.get("ExcludeUppercase", False)),
                exclude_lowercase=bool(generate.get("ExcludeLowercase", False)),
                include_space=bool(generate.get("IncludeSpace", False)),
                require_each_included_type=bool(generate.get("RequireEachIncludedType", True)),
            )
            password = json.loads(password)["RandomPassword"]
            template = generate.get("SecretStringTemplate")
            if template is None:
                value = password
            else:
                document = json.loads(template)
                document[generate["GenerateStringKey"]] = password
                value = json.dumps(document)
        created = backend.create_secret(
            name=properties.get("Name", resource_name),
            secret_string=value,
            secret_binary=None,
            description=properties.get("Description"),
            tags=properties.get("Tags") or [],
            kms_key_id=properties.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        return cls(json.loads(created)["ARN"])

    def is_created(self) -> bool:
        """Created synchronously."""
        return True


class HttpApiModel(CloudFormationModel):
    """AWS::ApiGatewayV2::Api with an OpenAPI Body (what SAM makes of an HttpApi): its routes and integrations."""

    def __init__(self, api_id: str, endpoint: str) -> None:
        self.api_id = api_id
        self.endpoint = endpoint

    @property
    def physical_resource_id(self) -> str:
        """The API id, what ``!Ref`` gives."""
        return self.api_id

    @staticmethod
    def cloudformation_name_type() -> str:
        """The property that names the resource."""
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        """The resource type this model creates."""
        return "AWS::ApiGatewayV2::Api"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        """The attributes ``!GetAtt`` may ask for."""
        return attr in ("ApiEndpoint", "ApiId")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        """The value of ``!GetAtt``."""
        return self.endpoint if attribute_name == "ApiEndpoint" else self.api_id

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> HttpApiModel:
        """Create the API and import its Body, as API Gateway's CloudFormation handler does."""
        properties = cloudformation_json.get("Properties", {})
        body = properties.get("Body")
        title = body.get("info", {}).get("title") if isinstance(body, dict) else None
        api = apigatewayv2_backends[account_id][region_name].create_api(
            # API Gateway's defaults for an HTTP API.
            api_key_selection_expression="$request.header.x-api-key",
            cors_configuration=properties.get("CorsConfiguration"),
            description=properties.get("Description"),
            disable_schema_validation="false",
            disable_execute_api_endpoint=properties.get("DisableExecuteApiEndpoint"),
            name=properties.get("Name") or title or resource_name,
            protocol_type=properties.get("ProtocolType", "HTTP"),
            route_selection_expression="$request.method $request.path",
            tags=properties.get("Tags") or {},
            version="",
        )
        if body is not None:
            api.import_api(json.dumps(body), bool(properties.get("FailOnWarnings", False)))
        return cls(api.api_id, api.api_endpoint)

    def is_created(self) -> bool:
        """Created synchronously."""
        return True


class HttpStageModel(CloudFormationModel):
    """AWS::ApiGatewayV2::Stage."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def physical_resource_id(self) -> str:
        """The stage name, what ``!Ref`` gives."""
        return self.name

    @staticmethod
    def cloudformation_name_type() -> str:
        """The property that names the resource."""
        return "StageName"

    @staticmethod
    def cloudformation_type() -> str:
        """The resource type this model creates."""
        return "AWS::ApiGatewayV2::Stage"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        """A stage has no attributes."""
        return False

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> HttpStageModel:
        """Create the stage on its API (moto's API takes the REST API's camelCase configuration)."""
        properties = dict(cloudformation_json.get("Properties", {}))
        api_id = properties.pop("ApiId")
        tags = properties.pop("Tags", {})
        config = {**_camel(properties), "tags": tags}
        config.setdefault("stageName", resource_name)
        stage = apigatewayv2_backends[account_id][region_name].create_stage(api_id, config)
        return cls(stage.name)

    def is_created(self) -> bool:
        """Created synchronously."""
        return True


class AlarmModel(CloudFormationModel):
    """AWS::CloudWatch::Alarm on one metric."""

    def __init__(self, name: str, arn: str) -> None:
        self.name = name
        self.arn = arn

    @property
    def physical_resource_id(self) -> str:
        """The alarm's name, what ``!Ref`` gives."""
        return self.name

    @staticmethod
    def cloudformation_name_type() -> str:
        """The property that names the resource."""
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        """The resource type this model creates."""
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        """``!GetAtt Alarm.Arn``."""
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        """The value of ``!GetAtt``."""
        return self.arn

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> AlarmModel:
        """Create the alarm in moto's CloudWatch."""
        properties = cloudformation_json.get("Properties", {})
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=properties.get("AlarmName", resource_name),
            namespace=properties.get("Namespace"),
            metric_name=properties.get("MetricName"),
            comparison_operator=properties.get("ComparisonOperator"),
            evaluation_periods=int(properties["EvaluationPeriods"]),
            period=int(properties.get("Period", 60)),
            threshold=float(properties.get("Threshold", 0)),
            statistic=properties.get("Statistic"),
            description=properties.get("AlarmDescription"),
            dimensions=properties.get("Dimensions", []),
            alarm_actions=properties.get("AlarmActions", []),
            ok_actions=properties.get("OKActions", []),
            treat_missing_data=properties.get("TreatMissingData"),
        )
        return cls(alarm.name, alarm.alarm_arn)

    def is_created(self) -> bool:
        """Created synchronously."""
        return True


class DashboardModel(CloudFormationModel):
    """AWS::CloudWatch::Dashboard: the body as the template's Fn::Sub resolved it."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def physical_resource_id(self) -> str:
        """The dashboard's name, what ``!Ref`` gives."""
        return self.name

    @staticmethod
    def cloudformation_name_type() -> str:
        """The property that names the resource."""
        return "DashboardName"

    @staticmethod
    def cloudformation_type() -> str:
        """The resource type this model creates."""
        return "AWS::CloudWatch::Dashboard"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> DashboardModel:
        """Create the dashboard in moto's CloudWatch."""
        properties = cloudformation_json.get("Properties", {})
        name = properties.get("DashboardName") or resource_name
        cloudwatch_backends[account_id][region_name].put_dashboard(name, properties["DashboardBody"])
        return cls(name)

    def is_created(self) -> bool:
        """Created synchronously."""
        return True


def install() -> None:
    """Register the models and CloudFormation's failure reporting with moto (once per process)."""
    global _installed  # noqa: PLW0603 - moto's model registry is process-wide too
    with _install_lock:
        if _installed:
            return
        # moto lists its models (CloudFormationModel's subclasses) once and caches the list.
        parsing.get_model_list.cache_clear()
        parsing.get_model_map.cache_clear()
        parsing.get_name_type_map.cache_clear()
        create = parsing.parse_and_create_resource

        def create_or_fail(
            logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
        ) -> Any:
            resource_type = str(resource_json.get("Type", ""))
            if not _known(resource_type):
                raise _failed(resources_map, logical_id, resource_type, "the embedded AWS (moto) cannot create it")
            try:
                return create(logical_id, resource_json, resources_map, account_id, region_name)
            except ResourceFailed:
                # A resource this one refers to failed (moto creates dependencies on first reference): that one is
                # the stack's failure, as in CloudFormation, which never starts a resource whose dependency failed.
                raise
            except Exception as exc:
                reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                raise _failed(resources_map, logical_id, resource_type, reason) from exc

        parsing.parse_and_create_resource = create_or_fail
        parse_yaml = Stack.parse_template

        def parse_json_first(template: str) -> dict[str, Any]:
            # moto reads every template with PyYAML's pure-Python loader, JSON too: half a second at every start
            # for the transformed template.yaml. JSON is YAML, so json gives the same dict.
            try:
                document: dict[str, Any] = json.loads(template)
            except ValueError:
                return parse_yaml(template)
            return document

        Stack.parse_template = staticmethod(parse_json_first)  # type: ignore[method-assign]
        _installed = True


def _known(resource_type: str) -> bool:
    return (
        resource_type in parsing.get_model_map()
        or resource_type in parsing.NULL_MODELS
        or resource_type.startswith("Custom::")
    )


def _failed(resources_map: Any, logical_id: str, resource_type: str, reason: str) -> ResourceFailed:
    """Record the failure in the stack's events as CloudFormation does; the error fails CreateStack."""
    backend = cloudformation_backends[resources_map._account_id][resources_map._region_name]
    stack = backend.stacks.get(resources_map.stack_id)
    if stack is not None:
        stack.events.append(
            Event(
                stack_id=stack.stack_id,
                stack_name=stack.name,
                logical_resource_id=logical_id,
                physical_resource_id="",
                resource_type=resource_type,
                resource_status="CREATE_FAILED",
                resource_status_reason=reason,
                resource_properties=None,
            )
        )
        stack.status = "ROLLBACK_COMPLETE"
        stack.output_map = _NoOutputs()  # type: ignore[assignment]
        stack._add_stack_event("ROLLBACK_COMPLETE", f"The following resource(s) failed to create: [{logical_id}].")
    return ResourceFailed(message=f"Resource {logical_id} ({resource_type}) failed to create: {reason}")


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase keys as API Gateway's REST API spells them (``AutoDeploy`` -> ``autoDeploy``)."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel(item) for item in value]
    return value
