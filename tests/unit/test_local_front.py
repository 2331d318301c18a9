"""The local front turns HTTP requests into API Gateway HTTP API (payload 2.0) events and proxy results back."""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model

from nxbridge_dev.local.front import (
    HttpRequest,
    build_v2_event,
    is_text_content_type,
    match_path,
    response_from_result,
)


def _request(
    body: bytes = b'{"a": 1}',
    content_type: str | None = "application/json",
    target: str = "/webhooks/shopify",
    extra: list[tuple[str, str]] | None = None,
    method: str = "POST",
) -> HttpRequest:
    headers = [("Host", "127.0.0.1:3000"), ("User-Agent", "curl/8"), ("X-Shopify-Topic", "customers/create")]
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    return HttpRequest(method, target, headers + (extra or []), body, "127.0.0.1")


def _event(request: HttpRequest) -> dict[str, Any]:
    parameters = match_path("/webhooks/{endpoint}", request.target.split("?", 1)[0])
    assert parameters is not None
    return build_v2_event(request, path_parameters=parameters, host="127.0.0.1:3000", region="eu-west-1")


def test_event_parses_as_powertools_v2_model_with_route_and_path_parameter() -> None:
    event = _event(_request())

    model = APIGatewayProxyEventV2Model.model_validate(event)

    assert model.version == "2.0"
    assert model.routeKey == "POST /webhooks/{endpoint}"
    assert model.requestContext.routeKey == "POST /webhooks/{endpoint}"
    assert model.rawPath == "/webhooks/shopify"
    assert model.pathParameters == {"endpoint": "shopify"}
    assert model.requestContext.http.method == "POST"
    assert model.requestContext.http.userAgent == "curl/8"
    assert model.requestContext.stage == "$default"
    assert abs(event["requestContext"]["timeEpoch"] - model.requestContext.timeEpoch.timestamp() * 1000) < 1


def test_json_body_is_text_and_headers_are_lower_cased() -> None:
    event = _event(_request())

    assert event["isBase64Encoded"] is False
    assert event["body"] == '{"a": 1}'
    assert event["headers"]["x-shopify-topic"] == "customers/create"
    assert event["headers"]["content-type"] == "application/json"
    assert all(name == name.lower() for name in event["headers"])


def test_form_and_binary_bodies_arrive_base64_encoded_like_http_api_sends_them() -> None:
    form = _event(_request(b"name=Ann&email=a%40b.co", "application/x-www-form-urlencoded"))
    untyped = _event(_request(b"\x00\x01", None))

    assert form["isBase64Encoded"] is True
    assert base64.b64decode(form["body"]) == b"name=Ann&email=a%40b.co"
    assert untyped["isBase64Encoded"] is True
    assert base64.b64decode(untyped["body"]) == b"\x00\x01"


def test_text_content_types_follow_http_api() -> None:
    assert is_text_content_type("application/json; charset=utf-8")
    assert is_text_content_type("text/plain")
    assert not is_text_content_type("multipart/form-data; boundary=x")
    assert not is_text_content_type(None)


def test_cookies_query_and_repeated_headers_are_shaped_like_format_2() -> None:
    request = _request(
        target="/webhooks/form?tag=a&tag=b&empty=",
        extra=[("Cookie", "a=1; b=2"), ("X-Dup", "one"), ("X-Dup", "two")],
    )

    event = _event(request)

    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-dup"] == "one,two"
    assert event["rawQueryString"] == "tag=a&tag=b&empty="
    assert event["queryStringParameters"] == {"tag": "a,b", "empty": ""}


def test_absent_parts_are_omitted_not_empty() -> None:
    event = _event(_request(body=b"", method="OPTIONS"))

    assert event["routeKey"] == "OPTIONS /webhooks/{endpoint}"
    assert "body" not in event
    assert "cookies" not in event
    assert "queryStringParameters" not in event
    assert event["rawQueryString"] == ""


def test_a_path_parameter_is_exactly_one_path_segment_url_decoded() -> None:
    route = "/webhooks/{endpoint}"
    assert match_path(route, "/webhooks/shop%201") == {"endpoint": "shop 1"}
    assert match_path(route, "/webhooks/") is None
    assert match_path(route, "/webhooks/a/b") is None
    assert match_path(route, "/other/a") is None
    assert match_path("/webhooks/{endpoint}/token", "/webhooks/contact/token") == {"endpoint": "contact"}
    assert match_path("/webhooks/{endpoint}/token", "/webhooks/contact/other") is None


def test_proxy_result_becomes_status_headers_cookies_and_body() -> None:
    response = response_from_result(
        {
            "statusCode": 303,
            "headers": {"Location": "https://example.com/thanks", "Content-Type": "text/html"},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": base64.b64encode(b"<p>ok</p>").decode(),
            "isBase64Encoded": True,
        }
    )

    assert response.status == 303
    assert ("Location", "https://example.com/thanks") in response.headers
    assert [v for k, v in response.headers if k == "Set-Cookie"] == ["a=1; Path=/", "b=2"]
    assert response.body == b"<p>ok</p>"


def test_result_without_status_code_is_inferred_as_200_json() -> None:
    response = response_from_result({"accepted": 1})

    assert response.status == 200
    assert ("Content-Type", "application/json") in response.headers
    assert json.loads(response.body) == {"accepted": 1}


def test_malformed_proxy_result_is_a_gateway_500() -> None:
    response = response_from_result({"statusCode": "not a number", "body": "x"})

    assert response.status == 500
    assert json.loads(response.body) == {"message": "Internal Server Error"}
