"""template.yaml keeps the invariants the bridge relies on: batching, retries, encryption, least privilege, alarms."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from pydantic import BaseModel

from nxbridge.config import DrainSettings, IngestSettings, ReplaySettings
from nxbridge.endpoints import KINDS, parse_endpoints
from nxbridge.ordering import LEASE_SECONDS, WATERMARK_TTL_SECONDS
from nxbridge.replay.queues import DLQ_OUTPUT_KEY, QUEUE_OUTPUT_KEY
from tests.fixtures.template import function, load_template
from tools.check_layer import OPERATOR_ONLY, RUNTIME_PROVIDED, normalize, read_pins

ROOT = Path(__file__).resolve().parents[2]
DATA_SERVICES = ("sqs:", "dynamodb:", "secretsmanager:", "ssm:")
FUNCTIONS = {"IngestFunction": IngestSettings, "DrainFunction": DrainSettings, "ReplayFunction": ReplaySettings}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == kind}


def parameter(template: dict[str, Any], value: Any) -> dict[str, Any]:
    assert isinstance(value, dict) and "Ref" in value, f"{value!r} is not a parameter reference"
    declared: dict[str, Any] = template["Parameters"][value["Ref"]]
    return declared


def ref_target(value: Any) -> str:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    raise AssertionError(f"{value!r} references no resource")


def drain_events(template: dict[str, Any]) -> dict[str, Any]:
    events = template["Resources"]["DrainFunction"]["Properties"]["Events"]
    (sqs_event,) = [event for event in events.values() if event["Type"] == "SQS"]
    props: dict[str, Any] = sqs_event["Properties"]
    return props


def test_drain_takes_batches_of_100_and_reports_partial_failures(template: dict[str, Any]) -> None:
    event = drain_events(template)
    assert ref_target(event["Queue"]) == "CustomersQueue"
    assert event["BatchSize"] == 100
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    window = parameter(template, event["MaximumBatchingWindowInSeconds"])
    assert window["MinValue"] >= 1 and window["Default"] >= 1
    concurrency = parameter(template, event["ScalingConfig"]["MaximumConcurrency"])
    assert 2 <= concurrency["MinValue"] <= concurrency["Default"] <= concurrency["MaxValue"] <= 1000


def test_visibility_timeout_covers_six_drain_timeouts_plus_the_batching_window(template: dict[str, Any]) -> None:
    queue = template["Resources"]["CustomersQueue"]["Properties"]
    drain_timeout = function(template, "DrainFunction")["Timeout"]
    window_max = parameter(template, drain_events(template)["MaximumBatchingWindowInSeconds"])["MaxValue"]
    visibility = queue["VisibilityTimeout"]
    # A parameter (the local stack lowers it): its default is what a deployment gets.
    deployed = parameter(template, visibility)["Default"] if isinstance(visibility, dict) else visibility
    assert deployed >= 6 * drain_timeout + window_max


def test_drain_timeout_leaves_room_for_a_retry_of_a_slow_nxcloud_call(template: dict[str, Any]) -> None:
    drain = function(template, "DrainFunction")
    env = drain["Environment"]["Variables"]
    one_call = float(env["NXCLOUD_CONNECT_TIMEOUT"]) + float(env["NXCLOUD_READ_TIMEOUT"])
    assert drain["Timeout"] >= 2 * one_call
    # Webhook senders give up after 5-10 s; an ingest slower than that only earns a duplicate delivery.
    assert function(template, "IngestFunction")["Timeout"] <= 10


def test_customers_queue_redrives_to_the_dlq_after_at_least_five_receives(template: dict[str, Any]) -> None:
    redrive = template["Resources"]["CustomersQueue"]["Properties"]["RedrivePolicy"]
    assert ref_target(redrive["deadLetterTargetArn"]) == "CustomersDLQ"
    max_receive = redrive["maxReceiveCount"]
    if isinstance(max_receive, dict):
        declared = parameter(template, max_receive)
        assert declared["MinValue"] >= 5 and declared["Default"] >= 5
    else:
        assert max_receive >= 5


@pytest.mark.parametrize("queue", ["CustomersQueue", "CustomersDLQ"])
def test_queues_are_encrypted_at_rest(template: dict[str, Any], queue: str) -> None:
    props = template["Resources"][queue]["Properties"]
    assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props


def test_dlq_keeps_records_14_days_longer_than_the_queue(template: dict[str, Any]) -> None:
    dlq = template["Resources"]["CustomersDLQ"]["Properties"]["MessageRetentionPeriod"]
    queue = template["Resources"]["CustomersQueue"]["Properties"]["MessageRetentionPeriod"]
    assert dlq == 14 * 24 * 3600
    assert dlq > queue


def test_queues_outlive_the_stack(template: dict[str, Any]) -> None:
    for name in ("CustomersQueue", "CustomersDLQ"):
        assert template["Resources"][name]["DeletionPolicy"] == "Retain"
        assert template["Resources"][name]["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_run_on_arm64_python_312_or_newer_with_the_shared_layer(template: dict[str, Any], name: str) -> None:
    props = function(template, name)
    assert props["Architectures"] == ["arm64"]
    major, minor = (int(part) for part in props["Runtime"].removeprefix("python").split("."))
    assert (major, minor) >= (3, 12)
    assert {"Ref": "SharedLayer"} in props["Layers"]
    assert props["Tracing"] == "Active"
    assert template["Resources"][name]["Metadata"]["BuildMethod"] == "makefile"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_environment_holds_names_and_arns_never_secret_values(template: dict[str, Any], name: str) -> None:
    secrets = resources(template, "AWS::SecretsManager::Secret")
    for var, value in function(template, name)["Environment"]["Variables"].items():
        if re.search(r"SECRET|PASSWORD|TOKEN|CREDENTIAL", var):
            assert var.endswith("_ARN"), var
            assert ref_target(value) in secrets, f"{var} must be the Ref (ARN) of a Secrets Manager secret"
        if isinstance(value, dict) and "Ref" in value and value["Ref"] in template["Parameters"]:
            assert not template["Parameters"][value["Ref"]].get("NoEcho"), f"{var} carries a NoEcho parameter"
        assert "{{resolve:" not in str(value), f"{var} resolves a secret into the environment"


@pytest.mark.parametrize(("name", "settings"), FUNCTIONS.items())
def test_environment_matches_the_typed_settings(template: dict[str, Any], name: str, settings: type[BaseModel]) -> None:
    env = set(function(template, name)["Environment"]["Variables"])
    known = {field.alias for field in settings.model_fields.values()}
    required = {field.alias for field in settings.model_fields.values() if field.is_required()}
    powertools = {var for var in env if var.startswith("POWERTOOLS_")}
    assert required <= env
    assert env - powertools <= known, f"{name} sets variables its settings do not read"


def test_ingest_serves_post_preflight_and_fill_tokens_and_leaves_cors_to_the_handler(template: dict[str, Any]) -> None:
    events = template["Resources"]["IngestFunction"]["Properties"]["Events"]
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events.values() if e["Type"] == "HttpApi"}
    assert routes == {
        ("POST", "/webhooks/{endpoint}"),
        ("OPTIONS", "/webhooks/{endpoint}"),
        ("GET", "/webhooks/{endpoint}/token"),
    }
    assert all(ref_target(e["Properties"]["ApiId"]) == "HttpApi" for e in events.values())
    assert "CorsConfiguration" not in template["Resources"]["HttpApi"]["Properties"]


def test_http_api_throttles_and_writes_access_logs(template: dict[str, Any]) -> None:
    api = template["Resources"]["HttpApi"]["Properties"]
    assert {"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= set(api["DefaultRouteSettings"])
    log_group = ref_target(api["AccessLogSettings"]["DestinationArn"])
    assert "RetentionInDays" in template["Resources"][log_group]["Properties"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_logs_go_to_a_log_group_with_retention(template: dict[str, Any], name: str) -> None:
    log_group = ref_target(function(template, name)["LoggingConfig"]["LogGroup"])
    assert template["Resources"][log_group]["Type"] == "AWS::Logs::LogGroup"
    assert "RetentionInDays" in template["Resources"][log_group]["Properties"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_use_their_own_role_so_sam_attaches_no_wildcard_managed_policy(
    template: dict[str, Any], name: str
) -> None:
    props = template["Resources"][name]["Properties"]
    assert "Policies" not in props
    role = template["Resources"][ref_target(props["Role"])]
    assert role["Type"] == "AWS::IAM::Role"
    assert "ManagedPolicyArns" not in role["Properties"]


def test_data_actions_name_their_resources(template: dict[str, Any]) -> None:
    statements = [
        statement
        for role in resources(template, "AWS::IAM::Role").values()
        for policy in role["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    assert statements
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if not any(action.startswith(DATA_SERVICES) for action in actions):
            continue
        assert all("*" not in action for action in actions), statement
        targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for target in targets:
            assert target != "*" and isinstance(target, dict), statement
            assert "*" not in str(target), statement


def test_ingest_role_grants_exactly_what_ingest_needs(template: dict[str, Any]) -> None:
    granted = {
        (action, ref_target(st["Resource"]) if "Fn::Sub" not in st["Resource"] else "EndpointsParameter")
        for policy in template["Resources"]["IngestRole"]["Properties"]["Policies"]
        for st in policy["PolicyDocument"]["Statement"]
        for action in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
        if action.startswith(DATA_SERVICES)
    }
    assert granted == {
        ("sqs:SendMessage", "CustomersQueue"),
        ("secretsmanager:GetSecretValue", "WebhookSecrets"),
        ("ssm:GetParameter", "EndpointsParameter"),
        ("dynamodb:GetItem", "IdempotencyTable"),
        ("dynamodb:PutItem", "IdempotencyTable"),
        ("dynamodb:UpdateItem", "IdempotencyTable"),
        ("dynamodb:DeleteItem", "IdempotencyTable"),
    }


def role_grants(template: dict[str, Any], role: str) -> set[tuple[str, str]]:
    """(action, resource) pairs of a role's statements, for actions on data or on functions."""
    return {
        (action, ref_target(st["Resource"]))
        for policy in template["Resources"][role]["Properties"]["Policies"]
        for st in policy["PolicyDocument"]["Statement"]
        for action in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
        if action.startswith((*DATA_SERVICES, "lambda:")) and "Fn::Sub" not in st["Resource"]
    }


def test_watermarks_reach_every_function_and_each_role_grants_only_its_calls(template: dict[str, Any]) -> None:
    for name in FUNCTIONS:
        assert ref_target(function(template, name)["Environment"]["Variables"]["ORDERING_TABLE"]) == "IdempotencyTable"
    drain = {grant for grant in role_grants(template, "DrainRole") if grant[1] == "IdempotencyTable"}
    replay = {grant for grant in role_grants(template, "ReplayRole") if grant[1] == "IdempotencyTable"}
    # Claims are conditional updates, releases batched puts (or conditional updates); replay reads one watermark,
    # erasure scans and deletes.
    assert drain == {("dynamodb:UpdateItem", "IdempotencyTable"), ("dynamodb:BatchWriteItem", "IdempotencyTable")}
    assert replay == {(f"dynamodb:{a}", "IdempotencyTable") for a in ("GetItem", "Scan", "DeleteItem")}


def test_the_ingest_may_invoke_the_replay_function_and_nothing_else(template: dict[str, Any]) -> None:
    ingest = function(template, "IngestFunction")["Environment"]["Variables"]
    assert ref_target(ingest["REPLAY_FUNCTION"]) == "ReplayFunction"
    assert ingest["NXCLOUD_TYPE"] == {"Ref": "NXCloudType"}
    invokes = {grant for grant in role_grants(template, "IngestRole") if grant[0].startswith("lambda:")}
    assert invokes == {("lambda:InvokeFunction", "ReplayFunction")}
    assert not any(
        a.startswith("lambda:") for a, _ in role_grants(template, "DrainRole") | role_grants(template, "ReplayRole")
    )


def test_a_watermark_outlives_any_record_that_can_still_reach_the_drain(template: dict[str, Any]) -> None:
    queue = template["Resources"]["CustomersQueue"]["Properties"]["MessageRetentionPeriod"]
    dlq = template["Resources"]["CustomersDLQ"]["Properties"]["MessageRetentionPeriod"]
    assert queue + dlq < WATERMARK_TTL_SECONDS
    # A lease outlives any drain invocation that holds it, so that no call in flight is overtaken.
    assert function(template, "DrainFunction")["Timeout"] <= LEASE_SECONDS


def test_idempotency_table_is_on_demand_with_ttl(template: dict[str, Any]) -> None:
    table = template["Resources"]["IdempotencyTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_alarms_watch_dlq_backlog_drain_errors_and_ingest_5xx(template: dict[str, Any]) -> None:
    watched = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"], ref_target(d["Value"]))
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        for d in a["Properties"]["Dimensions"]
        if isinstance(d["Value"], dict) and ("Ref" not in d["Value"] or d["Value"]["Ref"] in template["Resources"])
    }
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "CustomersDLQ") in watched
    assert ("AWS/SQS", "ApproximateAgeOfOldestMessage", "CustomersQueue") in watched
    assert ("AWS/Lambda", "Errors", "DrainFunction") in watched
    assert ("AWS/ApiGateway", "5xx", "HttpApi") in watched


def test_alarm_notifications_are_optional(template: dict[str, Any]) -> None:
    assert template["Parameters"]["AlarmTopicArn"]["Default"] == ""
    notify = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == notify
        assert alarm["Properties"]["OKActions"] == notify


def test_default_endpoint_configuration_is_valid_and_has_an_output_url_per_kind(template: dict[str, Any]) -> None:
    document = parse_endpoints(template["Resources"]["EndpointsParameter"]["Properties"]["Value"])
    assert set(document.endpoints) == set(KINDS)
    urls = [output["Value"]["Fn::Sub"] for output in template["Outputs"].values() if "Fn::Sub" in output["Value"]]
    for kind in KINDS:
        assert any(url.endswith(f"/webhooks/{kind}") for url in urls), kind


def test_outputs_give_the_cli_what_it_needs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs["StackName"]["Value"] == {"Ref": "AWS::StackName"}
    assert ref_target(outputs[QUEUE_OUTPUT_KEY]["Value"]) == "CustomersQueue"
    assert ref_target(outputs[DLQ_OUTPUT_KEY]["Value"]) == "CustomersDLQ"
    assert ref_target(outputs["NXCloudSecretArn"]["Value"]) == "NXCloudSecret"
    assert ref_target(outputs["WebhookSecretsArn"]["Value"]) == "WebhookSecrets"
    assert ref_target(outputs["EndpointsParameterName"]["Value"]) == "EndpointsParameter"


def test_layer_is_built_for_the_functions_runtime_on_arm64(template: dict[str, Any]) -> None:
    runtime = template["Globals"]["Function"]["Runtime"]
    layer = template["Resources"]["SharedLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Properties"]["CompatibleRuntimes"] == [runtime]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    makefile = (ROOT / "layers" / "Makefile").read_text(encoding="utf-8")
    assert re.search(rf"^RUNTIME_PYTHON := {re.escape(runtime.removeprefix('python'))}$", makefile, re.M)
    assert re.search(r"^PLATFORM := manylinux\w*_aarch64$", makefile, re.M)
    assert "build-SharedLayer:" in makefile


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_makefile_has_the_target_sam_build_calls(template: dict[str, Any], name: str) -> None:
    code_uri = template["Resources"][name]["Properties"]["CodeUri"]
    assert f"build-{name}:" in (ROOT / code_uri / "Makefile").read_text(encoding="utf-8")


def test_layer_requirements_satisfy_the_project_and_close_over_their_dependencies() -> None:
    pins = read_pins(ROOT / "layers" / "requirements.txt")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    # The operator console's Flask is a dependency of the package but never of the layer (tools/check_layer.py).
    direct = [dep for dep in map(Requirement, project) if normalize(dep.name) not in RUNTIME_PROVIDED | OPERATOR_ONLY]
    assert all(normalize(name) not in pins for name in OPERATOR_ONLY)
    for dep in direct:
        assert normalize(dep.name) in pins, f"{dep.name} is a runtime dependency but not in the layer"
        assert dep.specifier.contains(pins[normalize(dep.name)]), f"layer pin of {dep.name} is outside {dep}"
    # Walk the installed dependency tree, evaluating markers for the Lambda runtime rather than this machine.
    lambda_env = {"python_version": "3.13", "python_full_version": "3.13.0", "platform_machine": "aarch64"}
    missing: set[str] = set()
    queue = [(dep.name, set(dep.extras)) for dep in direct]
    seen: set[str] = set()
    while queue:
        name, extras = queue.pop()
        if normalize(name) in seen:
            continue
        seen.add(normalize(name))
        for spec in importlib.metadata.requires(name) or []:
            requirement = Requirement(spec)
            active = requirement.marker is None or any(
                requirement.marker.evaluate({**lambda_env, "extra": extra}) for extra in extras | {""}
            )
            if not active or normalize(requirement.name) in RUNTIME_PROVIDED:
                continue
            if normalize(requirement.name) not in pins:
                missing.add(requirement.name)
            queue.append((requirement.name, set(requirement.extras)))
    assert not missing, f"add to layers/requirements.txt (installed with --no-deps): {sorted(missing)}"


def test_samconfig_deploys_with_iam_capability_and_builds_without_containers() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    deploy = config["default"]["deploy"]["parameters"]
    assert "CAPABILITY_IAM" in deploy["capabilities"]
    assert deploy["resolve_s3"] is True
    assert "use_container" not in config["default"]["build"]["parameters"]
