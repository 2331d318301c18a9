"""The local stack's header parser makes the message the email parser makes, or leaves the block to it."""

from __future__ import annotations

import email.parser
import http.client
import io
from collections.abc import Iterator

import pytest
import urllib3.util.response

from nxbridge_dev.local import http_headers

BLOCKS: list[bytes] = [
    # What the local stack's exchanges carry: botocore's requests, moto's and the front's answers.
    b"Host: 127.0.0.1:4566\r\nX-Amz-Target: DynamoDB_20120810.UpdateItem\r\n"
    b"Content-Type: application/x-amz-json-1.0\r\n"
    b"Authorization: AWS4-HMAC-SHA256 Credential=testing/20261202/us-east-1/dynamodb/aws4_request, "
    b"SignedHeaders=content-type;host, Signature=abc\r\nContent-Length: 312\r\n\r\n",
    b"HTTP-Date: Wed, 02 Dec 2026 15:00:00 GMT\r\nx-amzn-RequestId: 1\r\nx-amz-crc32: 123\r\nContent-Length: 2\r\n\r\n",
    b"X-Shopify-Hmac-Sha256: a+b/c=\r\nX-Shopify-Topic: customers/create\r\n\r\n",
    b"A: b\n\n",
    b"Empty:\r\nSpaces:    padded value  \r\nTab:\tvalue\r\n\r\n",
    b"Dup: 1\r\nDup: 2\r\ndup: 3\r\n\r\n",
    b"Colons: a:b:c\r\nLatin: caf\xe9 \x85 end\r\n\r\n",
    b"\r\n",
    b"",
    b"A: b\r\n",
    # Left to the email parser: what its rules make something else of.
    b"Folded: first\r\n  second\r\n\r\n",
    b"Folded: first\r\n\tsecond\r\nNext: x\r\n\r\n",
    b"not a header line\r\nA: b\r\n\r\n",
    b"A: b\r\nnot a header line\r\n\r\n",
    b": empty name\r\n\r\n",
    b"Bad Name: x\r\n\r\n",
    b"From someone@example.com Wed Dec  2 15:00:00 2026\r\nA: b\r\n\r\n",
    b"Lone: carriage\rreturn\r\n\r\n",
    b"Trailing: cr\r\r\n\r\n",
    b"\xff\xfe: binary name\r\n\r\n",
]


@pytest.fixture(autouse=True)
def email_parser() -> Iterator[None]:
    """The process's own parser before and after each test (install() changes http.client for good)."""
    http_headers.uninstall()
    yield
    http_headers.uninstall()


def _view(message: http.client.HTTPMessage) -> tuple[object, ...]:
    return (
        type(message),
        message.items(),
        message.get_payload(),
        [type(defect) for defect in message.defects],
        message.is_multipart(),
        message.get_unixfrom(),
        message.preamble,
        message.epilogue,
        message.get_content_type(),
        message.get_all("dup"),
    )


@pytest.mark.parametrize("block", BLOCKS)
def test_the_message_is_the_email_parsers(block: bytes) -> None:
    theirs = http.client.parse_headers(io.BytesIO(block + b"body"))
    ours = http_headers.parse_headers(io.BytesIO(block + b"body"))

    assert _view(ours) == _view(theirs)


@pytest.mark.parametrize("block", BLOCKS[:10])
def test_plain_blocks_do_not_reach_the_email_parser(block: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the email parser was used")

    monkeypatch.setattr(email.parser.Parser, "parsestr", refuse)

    message = http_headers.parse_headers(io.BytesIO(block))
    # urllib3 checks every answer's headers this way: nothing left unparsed, no defect.
    urllib3.util.response.assert_header_parsing(message)


def test_the_rest_reads_from_the_same_place() -> None:
    stream = io.BytesIO(b"A: b\r\n\r\nbody")
    http_headers.parse_headers(stream)

    assert stream.read() == b"body"


def test_the_limits_are_http_clients() -> None:
    too_many = b"".join(b"H%d: v\r\n" % n for n in range(http.client._MAXHEADERS + 1)) + b"\r\n"
    with pytest.raises(http.client.HTTPException):
        http_headers.parse_headers(io.BytesIO(too_many))
    with pytest.raises(http.client.LineTooLong):
        http_headers.parse_headers(io.BytesIO(b"A: " + b"x" * (http.client._MAXLINE + 1) + b"\r\n\r\n"))


def test_install_replaces_what_http_server_and_http_client_call() -> None:
    http_headers.install()

    assert http.client.parse_headers is http_headers.parse_headers
    http_headers.uninstall()
    assert http.client.parse_headers is not http_headers.parse_headers
