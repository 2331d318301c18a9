"""The console refuses every request without the run's token, every form without its CSRF token, and any host
but this machine's; a refused request changes nothing. Purge shows its count and deletes only what it counted."""

from __future__ import annotations

import json
import stat

import pytest

from nxbridge.console.app import CONTENT_SECURITY_POLICY
from nxbridge.console.security import Guard, loopback_host
from tests.fixtures.console import ConsoleHarness
from tests.fixtures.replay import Queues

SEAT = "sales.team@example.com"


def replay_form(message_id: str) -> dict[str, str]:
    return {"id": message_id, "set": f"belong_seat_user={SEAT}"}


def untouched(queues: Queues, seeded: set[str]) -> bool:
    """The DLQ still holds exactly what was seeded and nothing was sent to the CustomersQueue."""
    return queues.dlq_ids() == seeded and queues.queued() == []


@pytest.mark.parametrize("path", ["/", "/dlq", "/replay", "/simulator", "/dlq/some-id"])
def test_pages_need_the_token(console: ConsoleHarness, path: str) -> None:
    response = console.anonymous().get(path)
    assert response.status_code == 401
    assert "token" in response.get_data(as_text=True)


def test_a_wrong_token_is_refused(console: ConsoleHarness) -> None:
    response = console.anonymous().get("/", query_string={"token": Guard.new().token})
    assert response.status_code == 403
    assert "Set-Cookie" not in response.headers


def test_the_token_url_sets_a_strict_http_only_cookie_and_leaves_the_address_bar(console: ConsoleHarness) -> None:
    response = console.anonymous().get("/dlq", query_string={"token": console.guard.token, "stage": "nxcloud"})
    assert response.status_code == 303
    assert response.headers["Location"] == "http://localhost/dlq?stage=nxcloud"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{console.guard.cookie_name}={console.guard.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie


def test_a_replay_without_the_token_changes_nothing(console: ConsoleHarness) -> None:
    message_id = console.queues.bridge()
    form = {**replay_form(message_id), "csrf": console.guard.csrf}
    response = console.anonymous().post("/replay/run", data=form)
    assert response.status_code == 401
    assert console.state.jobs.running() is None
    assert untouched(console.queues, {message_id})
    assert console.audit_lines == []


@pytest.mark.parametrize("csrf", [None, "", "0" * 64, "token-instead"], ids=["missing", "empty", "wrong", "run-token"])
def test_a_replay_without_the_csrf_token_changes_nothing(console: ConsoleHarness, csrf: str | None) -> None:
    message_id = console.queues.bridge()
    form = replay_form(message_id)
    if csrf is not None:
        form["csrf"] = console.guard.token if csrf == "token-instead" else csrf
    response = console.post("/replay/run", form, csrf=False)
    assert response.status_code == 403
    assert "CSRF" in response.get_data(as_text=True)
    assert untouched(console.queues, {message_id})
    assert console.audit_lines == []


def test_a_purge_without_the_csrf_token_changes_nothing(console: ConsoleHarness) -> None:
    message_id = console.queues.bridge()
    response = console.post("/purge/run", {"id": message_id, "expected": "1"}, csrf=False)
    assert response.status_code == 403
    assert untouched(console.queues, {message_id})
    assert list(console.archive_dir.iterdir()) == []


def test_another_host_is_refused_even_with_the_token(console: ConsoleHarness) -> None:
    # A DNS-rebinding page reaches 127.0.0.1 under its own name: the browser would send that name as Host.
    client = console.app.test_client()
    response = client.get("/", query_string={"token": console.guard.token}, base_url="http://rebind.example:8470")
    assert response.status_code == 403
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    ("host", "ok"),
    [("127.0.0.1:8470", True), ("localhost", True), ("[::1]:3000", True), ("127.0.0.1.nip.io", False), ("", False)],
)
def test_loopback_hosts(host: str, ok: bool) -> None:
    assert loopback_host(host) is ok


def test_with_token_and_csrf_the_replay_runs_and_the_audit_names_no_pii(console: ConsoleHarness) -> None:
    message_id = console.queues.bridge()
    response = console.post("/replay/run", replay_form(message_id))
    assert response.status_code == 303
    console.finish_jobs()
    [queued] = console.queues.queued()
    assert queued.customer.belong_seat_user == SEAT
    assert console.queues.dlq_ids() == set()
    lines = [json.loads(line) for line in console.audit_lines]
    assert [line["audit"] for line in lines] == ["replay started", "replay finished"]
    assert lines[0]["confirmed"] == 1 and lines[0]["setFields"] == ["belong_seat_user"]
    assert lines[1]["replayed"] == 1
    text = "\n".join(console.audit_lines)
    assert SEAT not in text and "Ada" not in text and "ada.lovelace" not in text


def test_a_replay_must_come_from_a_preview(console: ConsoleHarness) -> None:
    message_id = console.queues.bridge()
    response = console.post("/replay/run", {"error_code": "12148"})
    assert response.status_code == 400
    assert untouched(console.queues, {message_id})


def test_purge_shows_the_count_then_deletes_exactly_that_after_archiving(console: ConsoleHarness) -> None:
    seat_ids = {console.queues.bridge(), console.queues.bridge()}
    other = console.queues.bridge(code="1002")
    preview = console.post("/purge/preview", {"error_code": "12148"})
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    assert "This deletes <strong>2</strong> records" in page
    assert untouched(console.queues, {*seat_ids, other})

    wrong_count = [("error_code", "12148"), ("expected", "3"), *(("id", m) for m in sorted(seat_ids))]
    assert console.post("/purge/run", wrong_count).status_code == 400
    assert untouched(console.queues, {*seat_ids, other})

    confirmed = [("error_code", "12148"), ("expected", "2"), *(("id", m) for m in sorted(seat_ids))]
    done = console.post("/purge/run", confirmed)
    assert done.status_code == 200
    assert console.queues.dlq_ids() == {other}
    [archive] = console.archive_dir.iterdir()
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert {json.loads(line)["message_id"] for line in archive.read_text().splitlines()} == seat_ids
    purge_line = json.loads(console.audit_lines[-1])
    assert (purge_line["audit"], purge_line["confirmed"], purge_line["deleted"]) == ("purge", 2, 2)


def test_pages_allow_no_script_and_no_framing(console: ConsoleHarness) -> None:
    response = console.get("/")
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src" not in CONTENT_SECURITY_POLICY and "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "<script" not in response.get_data(as_text=True)
