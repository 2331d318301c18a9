"""The local stack passes its values as CloudFormation parameters and functions get their deployed environment."""

from __future__ import annotations

from typing import Any

import pytest

from nxbridge_dev.local.deploy import parameter_errors
from nxbridge_dev.local.stack import LocalSettings, function_environment, parse_parameter_overrides

DECLARED: dict[str, dict[str, Any]] = {
    "Window": {"Type": "Number", "Default": 2, "MinValue": 1, "MaxValue": 60},
    "Level": {"Type": "String", "Default": "INFO", "AllowedValues": ["DEBUG", "INFO"]},
    "Days": {"Type": "Number", "Default": 30, "AllowedValues": [1, 30]},
    "Url": {"Type": "String", "Default": "https://a.example", "AllowedPattern": "^https://[a-z.]+$"},
    "Key": {"Type": "String", "MinLength": 2, "MaxLength": 4},
}


def test_values_cloudformation_accepts_have_no_errors() -> None:
    assert parameter_errors(DECLARED, {"Window": "1", "Level": "DEBUG", "Days": "30", "Key": "ab"}) == []


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"Key": "ab", "Window": "0.5"}, "Parameter 'Window' must be a number not less than 1"),
        ({"Key": "ab", "Window": "61"}, "Parameter 'Window' must be a number not greater than 60"),
        ({"Key": "ab", "Window": "soon"}, "Parameter 'Window' must be a number"),
        ({"Key": "ab", "Level": "LOUD"}, "Parameter 'Level' must be one of AllowedValues"),
        ({"Key": "ab", "Days": "31"}, "Parameter 'Days' must be one of AllowedValues"),
        ({"Key": "ab", "Url": "http://a.example"}, "Parameter 'Url' must match pattern ^https://[a-z.]+$"),
        ({"Key": "a"}, "Parameter 'Key' must contain at least 2 characters"),
        ({"Key": "abcde"}, "Parameter 'Key' must not contain more than 4 characters"),
        ({"Key": "ab", "Nope": "1"}, "Parameters: [Nope] do not exist in the template"),
        ({}, "Parameters: [Key] must have values"),
    ],
)
def test_values_cloudformation_refuses_get_its_message(values: dict[str, str], error: str) -> None:
    assert parameter_errors(DECLARED, values) == [error]


def test_a_plain_variable_takes_the_shells_value_and_a_resource_or_parameter_never_does() -> None:
    deployed = {"QUEUE_URL": "https://sqs/q", "NXCLOUD_MAX_ATTEMPTS": "4", "NXCLOUD_TYPE": "1", "EMPTY": "x"}
    shell = {"QUEUE_URL": "https://sqs/mine", "NXCLOUD_MAX_ATTEMPTS": "1", "NXCLOUD_TYPE": "0", "EMPTY": ""}

    env = function_environment(deployed, frozenset({"NXCLOUD_MAX_ATTEMPTS", "EMPTY"}), shell)

    assert env == {"QUEUE_URL": "https://sqs/q", "NXCLOUD_MAX_ATTEMPTS": "1", "NXCLOUD_TYPE": "1", "EMPTY": "x"}


def test_the_local_values_become_parameter_overrides_and_unset_batching_stays_the_templates() -> None:
    settings = LocalSettings.from_env(
        {"PARAMETER_OVERRIDES": "LogLevel=DEBUG MaxReceiveCount=9", "NXCLOUD_STRICT_BINDING": "true"}
    )

    parameters = settings.stack_parameters("http://127.0.0.1:4000")

    assert parameters == {
        "LogLevel": "DEBUG",
        "MaxReceiveCount": "5",
        "NXCloudBaseUrl": "http://127.0.0.1:4000",
        "NXCloudStrictBinding": "true",
        "VisibilityTimeoutSeconds": "10",
    }
    assert LocalSettings(batch_window=3.0, max_concurrency=4).stack_parameters("u")["BatchingWindowSeconds"] == "3"


def test_the_local_visibility_timeout_outlasts_the_batching_window_that_holds_a_message() -> None:
    # A message received early in a window must stay hidden until its batch is drained, or a second poller gets it.
    assert LocalSettings().stack_parameters("u", template_window=20)["VisibilityTimeoutSeconds"] == "40"
    assert LocalSettings(batch_window=1.0).stack_parameters("u", template_window=20)["VisibilityTimeoutSeconds"] == "10"
    overridden = LocalSettings(parameter_overrides={"BatchingWindowSeconds": "30"})
    assert overridden.stack_parameters("u", template_window=20)["VisibilityTimeoutSeconds"] == "60"
    assert (
        LocalSettings(visibility_timeout=7).stack_parameters("u", template_window=20)["VisibilityTimeoutSeconds"] == "7"
    )


def test_parameter_overrides_are_sams_key_value_pairs() -> None:
    assert parse_parameter_overrides("A=1  B=x=y C=") == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(ValueError, match="not Key=Value"):
        parse_parameter_overrides("A=1 oops")
