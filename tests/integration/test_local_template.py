"""template.yaml deploys into moto's CloudFormation as it deploys into AWS, and the stack reads back whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from nxbridge_dev.local.aws import LocalAws
from nxbridge_dev.local.deploy import DeployError, Deployment, deploy
from nxbridge_dev.local.stack import ROOT
from nxbridge_dev.local.template import PackagedTemplate, load_template
from tests.fixtures.local import FAST_RETRIES, LOCAL_REGION


def _source_template() -> dict[str, Any]:
    """template.yaml as written (intrinsics kept as {"Ref": ...} / {"Fn::...": ...})."""

    class Loader(yaml.SafeLoader):
        pass

    def intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {"Ref": value} if suffix == "Ref" else {f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", intrinsic)
    loaded: dict[str, Any] = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=Loader)
    return loaded


def test_every_resource_of_template_yaml_is_create_complete(
    local_aws: LocalAws, local_deployment: Deployment, packaged_template: PackagedTemplate
) -> None:
    cloudformation = local_aws.client("cloudformation")
    [stack] = cloudformation.describe_stacks(StackName="nxbridge")["Stacks"]
    summaries = cloudformation.list_stack_resources(StackName="nxbridge")["StackResourceSummaries"]

    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {s["LogicalResourceId"] for s in summaries} == set(packaged_template.document["Resources"])
    assert {s["ResourceStatus"] for s in summaries} == {"CREATE_COMPLETE"}
    # Including the four types the local stack teaches moto.
    assert {"AWS::SecretsManager::Secret", "AWS::ApiGatewayV2::Api", "AWS::CloudWatch::Alarm"} <= {
        s["ResourceType"] for s in summaries
    }


def test_the_queue_and_dlq_outputs_resolve_to_the_stacks_queues(
    local_aws: LocalAws, local_deployment: Deployment
) -> None:
    sqs = local_aws.sqs()
    arn = {
        key: sqs.get_queue_attributes(QueueUrl=local_deployment.outputs[key], AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        for key in ("QueueUrl", "DlqUrl")
    }

    assert local_deployment.resources["CustomersQueue"] == ("AWS::SQS::Queue", local_deployment.outputs["QueueUrl"])
    assert local_deployment.resources["CustomersDLQ"] == ("AWS::SQS::Queue", local_deployment.outputs["DlqUrl"])
    assert arn == {"QueueUrl": local_deployment.queue_arn, "DlqUrl": local_deployment.dlq_arn}
    assert local_deployment.max_receive_count == int(FAST_RETRIES["MaxReceiveCount"])
    assert local_deployment.visibility_timeout == int(FAST_RETRIES["VisibilityTimeoutSeconds"])


def test_the_drains_event_source_has_the_templates_batching_and_reports_batch_item_failures(
    local_deployment: Deployment,
) -> None:
    template = _source_template()
    [event] = [e["Properties"] for e in template["Resources"]["DrainFunction"]["Properties"]["Events"].values()]
    defaults = {name: spec.get("Default") for name, spec in template["Parameters"].items()}
    source = local_deployment.event_source

    assert source.function_arn == local_deployment.functions["DrainFunction"].arn
    assert source.queue_arn == local_deployment.queue_arn
    assert source.batch_size == event["BatchSize"] == 100
    assert source.report_batch_item_failures is True
    assert source.batching_window_seconds == defaults[event["MaximumBatchingWindowInSeconds"]["Ref"]]
    assert source.maximum_concurrency == defaults[event["ScalingConfig"]["MaximumConcurrency"]["Ref"]]


def test_each_functions_environment_names_only_resources_of_the_stack(local_deployment: Deployment) -> None:
    physical = {physical_id for _, physical_id in local_deployment.resources.values()}
    template = _source_template()
    for logical_id, function in local_deployment.functions.items():
        declared = template["Resources"][logical_id]["Properties"]["Environment"]["Variables"]
        for name, value in declared.items():
            if isinstance(value, dict) and value.get("Ref") in template["Resources"]:
                _, target = local_deployment.resources[value["Ref"]]
                assert function.environment[name] == target, (logical_id, name)
        for name, value in function.environment.items():
            if value.startswith(("arn:", "https://sqs.", "/nxbridge/", "nxbridge-")):
                assert value in physical, (logical_id, name, value)
    ingest = local_deployment.functions["IngestFunction"].environment
    drain = local_deployment.functions["DrainFunction"].environment
    assert {ingest["QUEUE_URL"], drain["DLQ_URL"]} == {
        local_deployment.outputs["QueueUrl"],
        local_deployment.outputs["DlqUrl"],
    }
    assert ingest["WEBHOOK_SECRETS_ARN"] == local_deployment.outputs["WebhookSecretsArn"]
    assert drain["NXCLOUD_SECRET_ARN"] == local_deployment.outputs["NXCloudSecretArn"]


def test_the_http_api_routes_are_the_templates_and_invoke_the_ingest_function(local_deployment: Deployment) -> None:
    events = _source_template()["Resources"]["IngestFunction"]["Properties"]["Events"].values()
    declared = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events if e["Type"] == "HttpApi"}

    assert {(r.method, r.path) for r in local_deployment.routes} == declared
    assert {r.function_arn for r in local_deployment.routes} == {local_deployment.functions["IngestFunction"].arn}
    assert {r.payload_format_version for r in local_deployment.routes} == {"2.0"}


def test_overrides_the_templates_constraints_refuse_are_refused_and_nothing_is_created(
    local_aws: LocalAws, packaged_template: PackagedTemplate
) -> None:
    overrides = {**FAST_RETRIES, "MaxReceiveCount": "2", "LogLevel": "LOUD", "NoSuchParameter": "1"}

    with pytest.raises(DeployError) as refused:
        deploy(local_aws, packaged_template, overrides)

    message = str(refused.value)
    assert "Parameter 'MaxReceiveCount' must be a number not less than 5" in message
    assert "Parameter 'LogLevel' must be one of AllowedValues" in message
    assert "Parameters: [NoSuchParameter] do not exist in the template" in message
    assert local_aws.client("cloudformation").list_stacks()["StackSummaries"] == []


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert old in text
    copy = tmp_path / "template.yaml"
    copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


def test_a_resource_that_fails_is_create_failed_with_its_reason_and_the_stack_rolled_back(
    local_aws: LocalAws, tmp_path: Path
) -> None:
    copy = _broken_copy(tmp_path, "      MessageRetentionPeriod: 345600\n", "      MessageRetentionPeriod: soon\n")
    template = load_template(copy, region=LOCAL_REGION, cache_dir=None)

    with pytest.raises(DeployError) as failed:
        deploy(local_aws, template, FAST_RETRIES)

    assert "CREATE_FAILED: CustomersQueue (AWS::SQS::Queue)" in str(failed.value)
    cloudformation = local_aws.client("cloudformation")
    events = cloudformation.describe_stack_events(StackName="nxbridge")["StackEvents"]
    [failure] = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failure["LogicalResourceId"] == "CustomersQueue"
    assert "soon" in failure["ResourceStatusReason"]
    assert cloudformation.describe_stacks(StackName="nxbridge")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"


def test_a_resource_type_moto_cannot_create_fails_the_stack_instead_of_vanishing(
    local_aws: LocalAws, packaged_template: PackagedTemplate
) -> None:
    document = json.loads(packaged_template.body)
    document["Resources"]["Mailer"] = {"Type": "AWS::SES::ConfigurationSet", "Properties": {}}
    template = PackagedTemplate(body=json.dumps(document), code_dirs=packaged_template.code_dirs)

    with pytest.raises(DeployError) as failed:
        deploy(local_aws, template, FAST_RETRIES)

    assert "Mailer (AWS::SES::ConfigurationSet): the embedded AWS (moto) cannot create it" in str(failed.value)
