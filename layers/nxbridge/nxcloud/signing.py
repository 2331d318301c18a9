"""NXCloud's common signature for application/json APIs (docs/nxcloud-contract.md, "Signing"); pure functions."""

from __future__ import annotations

import hashlib

BIZ_TYPE = "2"
ACTION = "mt"


def string_to_sign(headers: dict[str, str], body: bytes, access_secret: str) -> bytes:
    """``k=v`` of every header but sign, sorted by key, ``&body=<body>`` when non-empty, ``&accessSecret=``."""
    header_part = "&".join(f"{k}={headers[k]}" for k in sorted(headers) if k != "sign")
    body_part = b"&body=" + body if body else b""
    return header_part.encode("utf-8") + body_part + b"&accessSecret=" + access_secret.encode("utf-8")


def sign(headers: dict[str, str], body: bytes, access_secret: str) -> str:
    """Lowercase hex MD5 of the string to sign."""
    return hashlib.md5(string_to_sign(headers, body, access_secret), usedforsecurity=False).hexdigest()


def signed_headers(access_key: str, access_secret: str, body: bytes, ts_ms: int) -> dict[str, str]:
    """The five NXCloud headers for ``body``, signed with a timestamp taken by the caller at send time."""
    headers = {"accessKey": access_key, "ts": str(ts_ms), "bizType": BIZ_TYPE, "action": ACTION}
    headers["sign"] = sign(headers, body, access_secret)
    return headers
