"""Website forms: urlencoded, multipart and JSON bodies, the shared-secret header, mapping by field name."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from nxbridge.sources import MalformedPayload, source_for
from tests.fixtures.ingest import customers_of, endpoint_config, webhook_request

URLENCODED = {"content-type": "application/x-www-form-urlencoded"}
MAPPING = {"full_name": "name", "tagStr": "tags", "remark": "message"}


def multipart(fields: list[tuple[str, str]], boundary: str = "----WebKitFormBoundary7MA4YWxkTrZu0gW") -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n' for name, value in fields
    ]
    upload = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="cv"; filename="cv.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n%PDF-1.4 binary\r\n"
    )
    return ("".join(parts) + upload + f"--{boundary}--\r\n").encode("utf-8")


def test_an_urlencoded_post_is_mapped_by_field_name_with_repeated_fields_as_lists() -> None:
    body = urlencode(
        [
            ("name", "José Álvarez"),
            ("email", "jose@example.es"),
            ("phone", "+34 600 11 22 33"),
            ("tags", "a"),
            ("tags", "b"),
            ("message", "Hola"),
            ("submit", "Send"),
        ]
    ).encode()

    assert customers_of("form", body, URLENCODED, mapping=MAPPING) == [
        {
            "full_name": "José Álvarez",
            "email": "jose@example.es",
            "sms_phone": "34600112233",
            "whats_app_phone": "34600112233",
            "tagStr": "a,b",
            "remark": "Hola",
        }
    ]


def test_a_multipart_post_is_read_and_uploaded_files_are_ignored() -> None:
    body = multipart([("name", "Zoë Quinn"), ("email", "zoe@example.com"), ("message", "Line 1\r\nLine 2")])
    headers = {"content-type": "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW"}

    assert customers_of("form", body, headers, mapping=MAPPING) == [
        {"full_name": "Zoë Quinn", "email": "zoe@example.com", "remark": "Line 1\r\nLine 2"}
    ]


def test_a_json_post_from_fetch_is_read_like_a_form() -> None:
    body = b'{"name": "Ann Lee", "email": "ann@example.com", "tags": ["x", "y"], "nested": {"ignored": true}}'

    assert customers_of("form", body, {"content-type": "application/json"}, mapping=MAPPING) == [
        {"full_name": "Ann Lee", "email": "ann@example.com", "tagStr": "x,y"}
    ]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"name=%FF%FE", "application/x-www-form-urlencoded"),
        (b"no boundary here", "multipart/form-data"),
        (b"[1, 2]", "application/json"),
    ],
    ids=["not-utf8", "multipart-without-boundary", "json-array"],
)
def test_unreadable_form_bodies_are_malformed(body: bytes, content_type: str) -> None:
    with pytest.raises(MalformedPayload):
        customers_of("form", body, {"content-type": content_type})


def test_a_form_must_say_its_content_type() -> None:
    source = source_for("form")

    assert not source.accepts(None)
    assert source.accepts("multipart/form-data")
    assert not source.accepts("text/plain")


def test_the_shared_secret_header_is_compared_with_every_current_secret() -> None:
    source = source_for("form")
    config = endpoint_config("form", form={"secret_header": "X-Form-Key"})
    request = webhook_request(b"email=a%40example.com", {**URLENCODED, "X-Form-Key": "old-key"})
    unsigned = webhook_request(b"email=a%40example.com", URLENCODED)

    assert source.verify(request, ["new-key", "old-key"], config, request.received_at)
    assert not source.verify(request, ["new-key"], config, request.received_at)
    assert not source.verify(unsigned, ["new-key"], config, request.received_at)


def test_the_idempotency_key_header_is_the_optional_delivery_id() -> None:
    source = source_for("form")
    config = endpoint_config("form")

    keyed = webhook_request(b"", {**URLENCODED, "Idempotency-Key": "order-42"})

    assert source.delivery_id(keyed, {}, config) == "order-42"
    assert source.delivery_id(webhook_request(b"", URLENCODED), {}, config) is None
