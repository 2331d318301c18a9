"""The NXCloud signature (docs/nxcloud-contract.md, "Signing") checked against digests computed here."""

from __future__ import annotations

import hashlib

from nxbridge.nxcloud.signing import sign, signed_headers, string_to_sign

AK = "fme2na3kdi3ki"
SECRET = "demo-secret"
TS = 1655710885431
WORKED = b'accessKey=fme2na3kdi3ki&action=mt&bizType=2&ts=1655710885431&body={"type":0}&accessSecret=demo-secret'


def _headers(ts: int = TS) -> dict[str, str]:
    # Deliberately not in sorted order: the signature must sort them.
    return {"ts": str(ts), "bizType": "2", "accessKey": AK, "action": "mt"}


def test_worked_check_builds_the_contract_string_to_sign() -> None:
    assert string_to_sign(_headers(), b'{"type":0}', SECRET) == WORKED


def test_worked_check_digest_is_lowercase_md5_of_that_string() -> None:
    expected = hashlib.md5(WORKED).hexdigest()

    assert sign(_headers(), b'{"type":0}', SECRET) == expected
    assert expected == expected.lower()
    assert len(expected) == 32


def test_signed_headers_carry_the_fixed_values_and_the_worked_digest() -> None:
    headers = signed_headers(AK, SECRET, b'{"type":0}', TS)

    assert headers == {
        "accessKey": AK,
        "ts": "1655710885431",
        "bizType": "2",
        "action": "mt",
        "sign": hashlib.md5(WORKED).hexdigest(),
    }


def test_empty_body_omits_the_body_part() -> None:
    expected_text = b"accessKey=fme2na3kdi3ki&action=mt&bizType=2&ts=1655710885431&accessSecret=demo-secret"

    assert string_to_sign(_headers(), b"", SECRET) == expected_text
    assert sign(_headers(), b"", SECRET) == hashlib.md5(expected_text).hexdigest()


def test_non_ascii_body_is_signed_as_its_utf8_bytes() -> None:
    body = '{"customers":[{"full_name":"张三 Zoë"}]}'.encode()
    expected_text = (
        b"accessKey=fme2na3kdi3ki&action=mt&bizType=2&ts=1655710885431&body=" + body + b"&accessSecret=demo-secret"
    )

    assert string_to_sign(_headers(), body, SECRET) == expected_text
    assert sign(_headers(), body, SECRET) == hashlib.md5(expected_text).hexdigest()
    # The same text escaped as ASCII is another byte string, so another signature.
    assert sign(_headers(), b'{"customers":[{"full_name":"\\u5f20\\u4e09 Zo\\u00eb"}]}', SECRET) != sign(
        _headers(), body, SECRET
    )


def test_an_existing_sign_header_is_not_part_of_the_string_to_sign() -> None:
    headers = {**_headers(), "sign": "stale"}

    assert string_to_sign(headers, b'{"type":0}', SECRET) == WORKED


def test_the_signature_depends_on_secret_ts_and_every_body_byte() -> None:
    base = sign(_headers(), b'{"type":0}', SECRET)

    assert sign(_headers(), b'{"type":0}', "other-secret") != base
    assert sign(_headers(TS + 1), b'{"type":0}', SECRET) != base
    assert sign(_headers(), b'{"type":0} ', SECRET) != base
