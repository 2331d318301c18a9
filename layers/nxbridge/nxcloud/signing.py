"""NXCloud's common signature for application/json APIs (docs/nxcloud-contract.md, "Signing"); pure functions."""

from __future__ import annotations

import hashlib

BIZ_TYPE = "2"
ACTION = "mt"


def _parts(headers: dict[str, str], body: bytes, access_secret: str) -> tuple[bytes, ...]:
    """The string to sign in its pieces, the body as it is (a batch's body is tens of kB: never copied)."""
    header_part = "&".join(f"{k}={headers[k]}" for k in sorted(headers) if k != "sign").encode("utf-8")
    secret_part = b"&accessSecret=" + access_secret.encode("utf-8")
    return (header_part, b"&body=", body, secret_part) if body else (header_part, secret_part)


def string_to_sign(headers: dict[str, str], body: bytes, access_secret: str) -> bytes:
    """``k=v`` of every header but sign, sorted by key, ``&body=<body>`` when non-empty, ``&accessSecret=``."""
    return b"".join(_parts(headers, body, access_secret))


def sign(headers: dict[str, str], body: bytes, access_secret: str) -> str:
    """Lowercase hex MD5 of the string to sign, hashed piece by piece (the same digest, without joining them)."""
    digest = hashlib.md5(usedforsecurity=False)
    for part in _parts(headers, body, access_secret):
        digest.update(part)
    return digest.hexdigest()


def signed_headers(access_key: str, access_secret: str, body: bytes, ts_ms: int) -> dict[str, str]:
    """The five NXCloud headers for ``body``, signed with a timestamp taken by the caller at send time."""
    headers = {"accessKey": access_key, "ts": str(ts_ms), "bizType": BIZ_TYPE, "action": ACTION}
    headers["sign"] = sign(headers, body, access_secret)
    return headers
