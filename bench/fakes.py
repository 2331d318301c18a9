"""Network stand-ins for the benchmarks: an SQS client, a requests session answering NXCloud, credentials.

They answer instantly with canned data, so that what is timed is the package's own work.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nxbridge.nxcloud.client import NXCloudCredentials

CREDENTIALS = NXCloudCredentials.model_validate(
    {"accessKey": "bench-access-key", "accessSecret": "bench-access-secret", "tenantId": 7, "appKey": "bench-app"}
)
FIXED_NOW = dt.datetime(2025, 6, 2, 10, 15, 30, tzinfo=dt.UTC)
DLQ_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/CustomersDLQ"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/CustomersQueue"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:CustomersQueue"
FIRST_CUSTOMER_ID = 1214631327620775936

_COUNTRIES = ("ES", "GB", "CN", "FR", "JP", "BR", "AE", "IN", "DE", "SG")
_FIRST = ("María", "Oliver", "Wei", "Sophie", "Kenji", "Ana", "Ahmed", "Priya", "Lena", "Noah")
_LAST = ("García", "Smith", "Zhang", "Dubois", "Tanaka", "Souza", "Hassan", "Sharma", "Fischer", "Tan")


def customer(n: int) -> dict[str, Any]:
    """Customer ``n`` as the sources produce them: a name, an e-mail, a WhatsApp number, country, tags, a remark."""
    first, last = _FIRST[n % 10], _LAST[(n // 10) % 10]
    return {
        "full_name": f"{first} {last}",
        "first_name": first,
        "last_name": last,
        "email": f"{first.lower()}.{last.lower()}.{n}@example.com",
        "whats_app_phone": f"+34 6{n:08d}",
        "country": _COUNTRIES[n % 10],
        "address": f"Calle de Alcalá {n % 200}, Madrid",
        "tagStr": "newsletter,vip",
        "remark": "Prefers WhatsApp; asked about wholesale prices.",
    }


class FakeSqs:
    """``send_message_batch`` that takes every entry (the drain's DLQ writes, the ingest's queueing)."""

    def __init__(self) -> None:
        self.entries = 0
        self.calls = 0

    def send_message_batch(self, *, QueueUrl: str, Entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Every entry succeeds."""
        self.calls += 1
        self.entries += len(Entries)
        return {
            "Successful": [
                {
                    "Id": entry["Id"],
                    "MessageId": f"m-{self.entries}-{entry['Id']}",
                    "MD5OfMessageBody": hashlib.md5(entry["MessageBody"].encode(), usedforsecurity=False).hexdigest(),
                }
                for entry in Entries
            ],
            "Failed": [],
        }


class FixedCredentials:
    """A CredentialsSource that always has the same credentials (a warm cache)."""

    def get(self, *, refresh: bool = False) -> NXCloudCredentials:
        """The credentials."""
        return CREDENTIALS


@dataclass
class CannedResponse:
    """The part of ``requests.Response`` the NXCloud client reads."""

    status_code: int
    content: bytes


@dataclass
class CannedSession:
    """A requests session whose ``post`` answers at once; remembers the last body and when it was posted."""

    response: CannedResponse
    last_body: bytes = b""
    last_headers: dict[str, str] = field(default_factory=dict)
    posted_at: float = 0.0

    def post(self, url: str, *, data: bytes, headers: dict[str, str], timeout: Any) -> CannedResponse:
        """Record and answer."""
        self.posted_at = time.perf_counter()
        self.last_body = data
        self.last_headers = headers
        return self.response


def batch_answer(total: int, failed: Iterable[int]) -> bytes:
    """A code-0 batch_create answer for ``total`` records where the indexes in ``failed`` are failItems (1002)."""
    failing = set(failed)
    success = [
        {"index": i, "customerId": FIRST_CUSTOMER_ID + i, "whatsAppPhone": f"346{i:08d}"}
        for i in range(total)
        if i not in failing
    ]
    fail = [
        {"index": i, "errorCode": 1002, "errorMessage": "email: invalid format"} for i in sorted(failing) if i < total
    ]
    document = {
        "code": 0,
        "message": "success",
        "traceId": "b8f1c2d3e4f5a6b7",
        "data": {
            "totalCount": total,
            "successCount": len(success),
            "failCount": len(fail),
            "failItems": fail,
            "successItems": success,
        },
    }
    return json.dumps(document, separators=(",", ":")).encode()
