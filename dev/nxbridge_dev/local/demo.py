"""``nxbridge demo``: start the local stack, post every sample webhook over HTTP, and prove the outcome.

The samples are the API Gateway events in ``events/api/`` (one per source kind) and ``events/demo/`` (bad
records, a duplicate delivery, a customer bound to a seat NXCloud does not have); ``events/demo/expected.json``
states what they must produce. The demo prints what happened and exits 0 only when it matches exactly.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import importlib.util
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import requests
from pydantic import BaseModel, ConfigDict, Field

from nxbridge.endpoints import EndpointsDocument, parse_endpoints, parse_secrets
from nxbridge.observability import logger
from nxbridge.redact import mask, scrub_text
from nxbridge.sources.verify import STANDARD_SECRET_PREFIX, standard_signature, verify_standard
from nxbridge_dev.local.stack import ROOT, LocalSettings, LocalStack

EVENTS_DIR = ROOT / "events"
EXPECTATIONS_NAME = "expected.json"
# Set by API Gateway on the way in; the local front adds its own.
_GATEWAY_HEADERS = frozenset(
    {"host", "content-length", "x-amzn-trace-id", "x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"}
)
# Standard Webhooks signatures are valid for minutes only: the samples are re-signed at posting time.
_STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


@dataclass(frozen=True)
class Delivery:
    """One HTTP request rebuilt from a sample API Gateway event."""

    name: str
    endpoint: str
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    """What the stack answered to one delivery."""

    delivery: Delivery
    status: int
    body: dict[str, Any]

    def summary(self) -> str:
        """A short human line: accepted count, duplicate, or the error code and message."""
        if "accepted" in self.body and self.status < 300:
            ignored = self.body.get("ignored")
            return f"accepted {self.body['accepted']}" + (f" (ignored: {ignored})" if ignored else "")
        if self.body.get("duplicate"):
            return "duplicate delivery: acknowledged, nothing queued again"
        if "error" in self.body:
            detail = self.body.get("message", "")
            errors = self.body.get("errors") or []
            if errors:
                detail += ": " + "; ".join(f"{e.get('field')} {e.get('reason')}" for e in errors)
            return f"{self.body['error']}: {scrub_text(str(detail))}"
        return json.dumps(self.body)


class ExpectedDelivery(BaseModel):
    """The answer one sample must get."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: int
    accepted: int | None = None
    duplicate: bool = False
    error: str | None = None


class ExpectedDlqRecord(BaseModel):
    """One record the DLQ must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str
    errorCode: str


class ExpectedReplay(BaseModel):
    """The fix (seats added to NXCloud), then what replaying the whole DLQ must leave."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    add_seats: list[str]
    customers: list[str]
    dlq: list[ExpectedDlqRecord] = Field(default_factory=list)


class Expectations(BaseModel):
    """``events/demo/expected.json``: what the samples are designed to produce."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    deliveries: dict[str, ExpectedDelivery]
    customers: list[str] = Field(description="identities (e-mail, else phone) stored in NXCloud after settling")
    dlq: list[ExpectedDlqRecord]
    replay: ExpectedReplay | None = None


# --- samples -> requests -------------------------------------------------------------------------------------


def sample_files(events_dir: Path = EVENTS_DIR) -> list[Path]:
    """Every sample event: ``api/`` first (sorted), then ``demo/`` (sorted), so a duplicate follows its original."""
    demo = sorted(p for p in (events_dir / "demo").glob("*.json") if p.name != EXPECTATIONS_NAME)
    return sorted((events_dir / "api").glob("*.json")) + demo


def delivery_from_event(
    name: str,
    event: Mapping[str, Any],
    *,
    endpoints: EndpointsDocument,
    secrets: Mapping[str, Sequence[str]],
    now: dt.datetime,
) -> Delivery:
    """The HTTP request behind an API Gateway v2 event; a valid Standard Webhooks signature is renewed for ``now``."""
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
    headers = {k.lower(): str(v) for k, v in (event.get("headers") or {}).items() if k.lower() not in _GATEWAY_HEADERS}
    if event.get("cookies"):
        headers["cookie"] = "; ".join(event["cookies"])
    path = event.get("rawPath") or event["requestContext"]["http"]["path"]
    query = event.get("rawQueryString") or ""
    endpoint = (event.get("pathParameters") or {}).get("endpoint") or path.rsplit("/", 1)[-1]
    configured = endpoints.get(endpoint)
    secret_name = configured.secret_name if configured is not None else None
    if secret_name is not None and all(h in headers for h in _STANDARD_HEADERS):
        headers = _renew_standard_signature(headers, body, secrets.get(secret_name, ()), now)
    return Delivery(
        name=name,
        endpoint=endpoint,
        method=event["requestContext"]["http"]["method"],
        target=f"{path}?{query}" if query else path,
        headers=headers,
        body=body,
    )


def _renew_standard_signature(
    headers: dict[str, str], body: bytes, secrets: Sequence[str], now: dt.datetime
) -> dict[str, str]:
    signed_at = headers["webhook-timestamp"]
    keys = [s for s in secrets if s.startswith(STANDARD_SECRET_PREFIX)]
    if not signed_at.isdigit() or not keys:
        return headers
    then = dt.datetime.fromtimestamp(int(signed_at), dt.UTC)
    # Only a genuine signature is renewed: a deliberately bad one must stay bad.
    if not verify_standard(headers, body, keys, now=then, tolerance_seconds=1):
        return headers
    timestamp = int(now.timestamp())
    return {
        **headers,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(keys[0], headers["webhook-id"], timestamp, body),
    }


def load_deliveries(events_dir: Path = EVENTS_DIR, *, now: dt.datetime | None = None) -> list[Delivery]:
    """Every sample as a ready-to-send request, signed with the documented local secrets."""
    endpoints = parse_endpoints((events_dir / "endpoints.json").read_text(encoding="utf-8"))
    secrets = parse_secrets((events_dir / "webhook-secrets.json").read_text(encoding="utf-8"))
    moment = now or dt.datetime.now(dt.UTC)
    return [
        delivery_from_event(
            path.relative_to(events_dir).as_posix(),
            json.loads(path.read_text(encoding="utf-8")),
            endpoints=endpoints,
            secrets=secrets,
            now=moment,
        )
        for path in sample_files(events_dir)
    ]


def post(session: requests.Session, base_url: str, delivery: Delivery) -> Answer:
    """Send one delivery over HTTP."""
    response = session.request(
        delivery.method, base_url + delivery.target, data=delivery.body, headers=delivery.headers, timeout=30
    )
    try:
        body = response.json()
    except ValueError:
        body = {"raw": response.text}
    return Answer(delivery, response.status_code, body if isinstance(body, dict) else {"raw": body})


# --- observing the outcome -----------------------------------------------------------------------------------


def identity(customer: Mapping[str, Any]) -> str:
    """How the expectations name a stored customer: its e-mail, else its first phone-like field."""
    for name in ("email", "whats_app_phone", "sms_phone", "viber_phone", "line", "zalo", "messenger", "instagram"):
        if customer.get(name):
            return str(customer[name])
    return str(customer.get("full_name", "?"))


@dataclass(frozen=True)
class DlqEntry:
    """One DLQ record as the report shows it (PII masked)."""

    endpoint: str | None
    stage: str
    errorCode: str
    errorMessage: str


def dlq_entries(stack: LocalStack) -> list[DlqEntry]:
    """Read every DLQ record with the replay tool's scanner (each is made visible again afterwards)."""
    from nxbridge.replay import DlqFilter, DlqScanner, select, view  # noqa: PLC0415 - the replay tool is optional

    resources = stack.require_resources()
    with DlqScanner(stack.aws.sqs(), resources.dlq_url, visibility_timeout=30, wait_seconds=0) as scanner:
        views = [view(message) for message in select(scanner, DlqFilter())]
    return [DlqEntry(v.endpoint, v.stage, v.errorCode, v.errorMessage) for v in views]


def replay_dlq(stack: LocalStack) -> int:
    """Replay every DLQ record to CustomersQueue with the replay tool; return how many were replayed."""
    from nxbridge.replay import DlqFilter, DlqScanner, Replayer, ReplayOptions  # noqa: PLC0415

    resources = stack.require_resources()
    sqs = stack.aws.sqs()
    scanner = DlqScanner(sqs, resources.dlq_url, visibility_timeout=30, wait_seconds=0)
    summary = Replayer(sqs, resources.queue_url).run(scanner, DlqFilter(), ReplayOptions())
    return summary.replayed


def replay_available() -> bool:
    """Whether the DLQ replay tool is part of this installation."""
    return importlib.util.find_spec("nxbridge.replay") is not None


def stored_identities(stack: LocalStack) -> list[str]:
    """The identities of the customers the simulator stores, sorted."""
    if stack.simulator is None:
        raise RuntimeError("the demo needs the NXCloud simulator")
    return sorted(identity(c) for c in stack.simulator.customers.values())


# --- comparing -----------------------------------------------------------------------------------------------


def delivery_mismatches(answers: Sequence[Answer], expected: Mapping[str, ExpectedDelivery]) -> list[str]:
    """Where the answers differ from the expected ones (also samples without an expectation, and vice versa)."""
    problems: list[str] = []
    seen = {a.delivery.name for a in answers}
    for name in sorted(set(expected) - seen):
        problems.append(f"{name}: expected but there is no such sample")
    for answer in answers:
        want = expected.get(answer.delivery.name)
        if want is None:
            problems.append(f"{answer.delivery.name}: no expectation in {EXPECTATIONS_NAME}")
            continue
        got = answer.body
        if answer.status != want.status:
            problems.append(f"{answer.delivery.name}: status {answer.status}, expected {want.status}")
        if want.accepted is not None and got.get("accepted") != want.accepted:
            problems.append(f"{answer.delivery.name}: accepted {got.get('accepted')}, expected {want.accepted}")
        if want.duplicate and not got.get("duplicate"):
            problems.append(f"{answer.delivery.name}: not treated as a duplicate")
        if want.error is not None and got.get("error") != want.error:
            problems.append(f"{answer.delivery.name}: error {got.get('error')}, expected {want.error}")
    return problems


def outcome_mismatches(
    label: str,
    customers: Sequence[str],
    dlq: Sequence[DlqEntry],
    want_customers: Sequence[str],
    want_dlq: Sequence[ExpectedDlqRecord],
) -> list[str]:
    """Differences between what NXCloud and the DLQ hold and what was expected (identities masked)."""
    problems: list[str] = []
    missing = Counter(want_customers) - Counter(customers)
    extra = Counter(customers) - Counter(want_customers)
    if missing or extra:
        absent = sorted(mask(c) for c in missing.elements())
        unexpected = sorted(mask(c) for c in extra.elements())
        problems.append(
            f"{label}: NXCloud holds {len(customers)} customers, expected {len(want_customers)}"
            f" (missing {absent}, unexpected {unexpected})"
        )
    got = Counter((e.endpoint, e.errorCode) for e in dlq)
    want = Counter((r.endpoint, r.errorCode) for r in want_dlq)
    if got != want:
        problems.append(f"{label}: DLQ holds {sorted(got.elements())}, expected {sorted(want.elements())}")
    return problems


# --- the command ---------------------------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``nxbridge demo``."""
    parser = subparsers.add_parser(
        "demo",
        help="start the local stack, post every sample webhook, report what happened",
        description="Start the local stack on free ports (always with the NXCloud simulator and the documented "
        "local secrets, whatever the environment says), post every event in events/api and events/demo over "
        "HTTP, wait until the pipeline settles, report, replay the DLQ after fixing the missing seat, and exit 0 "
        "only if the outcome is exactly what events/demo/expected.json describes.",
    )
    parser.add_argument("--events", type=Path, default=EVENTS_DIR, help="the events directory (default: events/)")
    parser.add_argument(
        "--batch-window", type=float, default=None, help="drain batching window in seconds (the template's default)"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the pipeline to settle")
    parser.add_argument("--verbose", action="store_true", help="show the functions' logs and metrics")
    parser.set_defaults(func=run_demo)


@contextmanager
def _quiet(verbose: bool) -> Iterator[TextIO]:
    """Keep the functions' logs and EMF metrics (printed to stdout, as in Lambda) off the report unless asked for.

    Yields the stream the report goes to.
    """
    out = sys.stdout
    if verbose:
        yield out
        return
    level = logger.log_level
    logger.setLevel("ERROR")
    try:
        with open(os.devnull, "w", encoding="utf-8") as sink, redirect_stdout(sink):
            yield out
    finally:
        logger.setLevel(level)


def run_demo(args: argparse.Namespace) -> int:
    """The ``nxbridge demo`` command; returns 0 only when the outcome matches the expectations."""
    events_dir: Path = args.events
    expectations = Expectations.model_validate_json((events_dir / "demo" / EXPECTATIONS_NAME).read_text("utf-8"))
    deliveries = load_deliveries(events_dir)
    # The environment is ignored on purpose: the outcome is only defined for the simulator and the samples' secrets.
    settings = LocalSettings(
        port=0,
        batch_window=args.batch_window,
        endpoints_file=events_dir / "endpoints.json",
        webhook_secrets_file=events_dir / "webhook-secrets.json",
    )
    with _quiet(args.verbose) as out, LocalStack(settings) as stack:
        return _demo(stack, deliveries, expectations, args.timeout, out)


def _demo(
    stack: LocalStack, deliveries: Sequence[Delivery], expectations: Expectations, timeout: float, out: TextIO
) -> int:
    def say(line: str = "") -> None:
        print(line, file=out, flush=True)

    say(f"nxbridge demo: the real ingest and drain functions on the local stack at {stack.base_url}\n")
    with requests.Session() as session:
        answers = [post(session, stack.base_url, d) for d in deliveries]
    width = max(len(a.delivery.name) for a in answers)
    say(f"Posted {len(answers)} webhooks:")
    for answer in answers:
        say(f"  {answer.status}  {answer.delivery.name:<{width}}  {answer.summary()}")

    started = time.monotonic()
    status = stack.wait_settled(timeout)
    customers = stored_identities(stack)
    dlq = dlq_entries(stack)
    accepted = [a for a in answers if a.status == 202]
    rejected = [a for a in answers if a.status >= 400]
    duplicates = [a for a in answers if a.body.get("duplicate")]
    say(f"\nSettled after {time.monotonic() - started:.1f} s ({status['batches_sent']} drain batch(es)):")
    accepted_customers = sum(int(a.body.get("accepted", 0)) for a in accepted)
    say(f"  accepted    {accepted_customers} customers from {len(accepted)} webhooks")
    reasons = ", ".join(f"{a.status} {a.body.get('error')}" for a in rejected)
    say(f"  rejected    {len(rejected)} webhooks" + (f": {reasons}" if reasons else ""))
    say(f"  duplicates  {len(duplicates)} webhook(s), acknowledged and not queued twice")
    say(f"  synced      {len(customers)} customers stored in NXCloud (simulator)")
    _print_dlq(dlq, say)

    problems = delivery_mismatches(answers, expectations.deliveries)
    problems += outcome_mismatches("after settling", customers, dlq, expectations.customers, expectations.dlq)

    replay = expectations.replay
    if replay is not None and replay_available():
        assert stack.simulator is not None
        for seat in replay.add_seats:
            stack.simulator.add_seat(seat)
        say(f"\nFixed the cause: added seat(s) {', '.join(replay.add_seats)} in NXCloud.")
        replayed = replay_dlq(stack)
        stack.wait_settled(timeout)
        customers = stored_identities(stack)
        dlq = dlq_entries(stack)
        say(f"Replayed {replayed} DLQ record(s) with the replay tool; after settling:")
        say(f"  synced      {len(customers)} customers stored in NXCloud (simulator)")
        _print_dlq(dlq, say)
        problems += outcome_mismatches("after the replay", customers, dlq, replay.customers, replay.dlq)
    elif replay is not None:
        say("\nThe DLQ replay tool is not in this checkout: the replay step is skipped.")

    if problems:
        say(f"\nFAILED: the outcome differs from events/demo/{EXPECTATIONS_NAME}:")
        for problem in problems:
            say(f"  - {problem}")
        return 1
    say(f"\nOK: the outcome is exactly what events/demo/{EXPECTATIONS_NAME} describes.")
    return 0


def _print_dlq(dlq: Sequence[DlqEntry], say: Callable[[str], None]) -> None:
    say(f"  in DLQ      {len(dlq)} record(s)" + (":" if dlq else ""))
    for entry in dlq:
        say(f"              {entry.endpoint}: {entry.errorCode} at stage {entry.stage}: {entry.errorMessage}")
