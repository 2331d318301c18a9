"""The local front hands ``/_console/...`` to the console as a WSGI call under that prefix, and nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from nxbridge_dev.local.console import CONSOLE_PREFIX, call_wsgi, wsgi_mount
from nxbridge_dev.local.front import Front, HttpRequest, HttpResponse, Route
from nxbridge_dev.local.functions import LocalFunction


def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A WSGI app that answers with what it was given."""
    seen = {
        key: environ.get(key)
        for key in ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "HTTP_COOKIE")
    }
    seen["body"] = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"] or 0)).decode()
    seen["host"] = f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    start_response("201 Created", [("Content-Type", "application/json"), ("Set-Cookie", "a=b")])
    return [json.dumps(seen).encode()]


def request(method: str, target: str, body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> HttpRequest:
    return HttpRequest(method, target, [("Host", "127.0.0.1:3000"), *(headers or [])], body, "127.0.0.1")


def test_the_app_sees_its_prefix_as_script_name_and_the_rest_as_path() -> None:
    response = call_wsgi(
        echo,
        request(
            "POST",
            "/_console/replay/preview?x=1",
            b"id=a&csrf=c",
            [("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", "k=v")],
        ),
        script_name=CONSOLE_PREFIX,
        host="127.0.0.1:3000",
    )
    assert response.status == 201
    assert ("Set-Cookie", "a=b") in response.headers
    assert json.loads(response.body) == {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "/_console",
        "PATH_INFO": "/replay/preview",
        "QUERY_STRING": "x=1",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "HTTP_COOKIE": "k=v",
        "body": "id=a&csrf=c",
        "host": "127.0.0.1:3000",
    }


def test_the_front_routes_only_the_prefix_to_the_mount() -> None:
    answered: list[str] = []

    def mount(req: HttpRequest, host: str) -> HttpResponse:
        answered.append(req.target)
        return HttpResponse(200)

    ingest = LocalFunction("IngestFunction", lambda event, context: {"statusCode": 202}, "eu-west-1", 10)
    front = Front([Route("POST", "/webhooks/{endpoint}", ingest)], dict, port=0, mounts={CONSOLE_PREFIX: mount})
    try:
        assert front.handle(request("GET", "/_console/dlq?stage=nxcloud"), "127.0.0.1:3000").status == 200
        assert front.handle(request("GET", "/_console"), "127.0.0.1:3000").status == 200
        assert front.handle(request("GET", "/_consoles"), "127.0.0.1:3000").status == 404
        assert front.handle(request("POST", "/webhooks/shopify", b"{}"), "127.0.0.1:3000").status == 202
    finally:
        front.stop()
    assert answered == ["/_console/dlq?stage=nxcloud", "/_console"]
    assert front.webhooks_received == 1 and set(front.last_webhook) == {"shopify"}


def test_wsgi_mount_serves_the_app_under_the_prefix() -> None:
    response = wsgi_mount(echo, CONSOLE_PREFIX)(request("GET", "/_console/"), "localhost:3000")
    assert json.loads(response.body)["PATH_INFO"] == "/"
