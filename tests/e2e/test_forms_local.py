"""Browser forms through the local stack: real HTTP in, the page or redirect out, the customer in the simulator."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from nxbridge.forms.spam import issue_fill_token
from nxbridge_dev.local.stack import ROOT, LocalStack

pytestmark = pytest.mark.e2e

LOCAL_PAGE = "http://localhost:8000"
BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "Origin": LOCAL_PAGE,
    "Referer": f"{LOCAL_PAGE}/contact.html",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
}
TIMED_KEY = "e2e-fill-token-key"
THANKS = "http://localhost:8000/thanks.html"


@pytest.fixture
def stack(tmp_path: Path, start_local_stack: Callable[..., LocalStack]) -> LocalStack:
    """The shipped configuration, plus ``contact-timed``: the same form with a minimum fill time and a success URL."""
    endpoints = json.loads((ROOT / "events" / "endpoints.json").read_text(encoding="utf-8"))
    timed = json.loads(json.dumps(endpoints["endpoints"]["contact"]))
    timed["form"] |= {"min_fill_seconds": 3, "fill_token_secret": "contact-timed-token", "success_url": THANKS}
    endpoints["endpoints"]["contact-timed"] = timed
    secrets = json.loads((ROOT / "events" / "webhook-secrets.json").read_text(encoding="utf-8"))
    secrets["contact-timed-token"] = TIMED_KEY
    (tmp_path / "endpoints.json").write_text(json.dumps(endpoints), encoding="utf-8")
    (tmp_path / "secrets.json").write_text(json.dumps(secrets), encoding="utf-8")
    return start_local_stack(endpoints_file=tmp_path / "endpoints.json", webhook_secrets_file=tmp_path / "secrets.json")


def stored(stack: LocalStack, email: str) -> dict[str, Any]:
    stack.wait_settled(30)
    assert stack.simulator is not None
    found = [c for c in stack.simulator.customers.values() if c.get("email") == email]
    assert len(found) == 1, found
    return found[0]


def test_a_browser_urlencoded_post_gets_the_thank_you_page_and_lands_in_nxcloud(stack: LocalStack) -> None:
    form = {
        "name": "Lucía Fernández",
        "email": "lucia.e2e@example.es",
        "phone": "+34 622 123 456",
        "company": "Panadería Lucía",
        "message": "¿Hacéis envíos a Canarias?",
        "_gotcha": "",
    }

    # requests sends a dict as application/x-www-form-urlencoded, as a browser does.
    url = stack.webhook_url("contact")
    response = requests.post(url, data=form, headers=BROWSER, timeout=10, allow_redirects=False)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Access-Control-Allow-Origin"] == LOCAL_PAGE
    assert "Thank you!" in response.text
    customer = stored(stack, "lucia.e2e@example.es")
    assert customer["full_name"] == "Lucía Fernández"
    assert customer["whats_app_phone"] == "34622123456"
    assert customer["remark"] == "¿Hacéis envíos a Canarias?"
    assert customer["tagStr"] == "website"
    assert json.loads(customer["customize_field"]) == {"company": "Panadería Lucía"}


def test_a_bot_filling_the_honeypot_gets_the_same_page_and_nothing_lands(stack: LocalStack) -> None:
    form = {"name": "Bot", "email": "bot.e2e@example.com", "_gotcha": "https://spam.example"}

    response = requests.post(stack.webhook_url("contact"), data=form, headers=BROWSER, timeout=10)
    stack.wait_settled(30)

    assert response.status_code == 200 and "Thank you!" in response.text
    assert stack.simulator is not None
    assert not [c for c in stack.simulator.customers.values() if c.get("email") == "bot.e2e@example.com"]


def test_a_fetch_preflight_is_answered_by_the_function_through_the_front(stack: LocalStack) -> None:
    asked = {"Origin": LOCAL_PAGE, "Access-Control-Request-Method": "POST"}

    url = stack.webhook_url("contact")
    allowed = requests.options(url, headers=asked, timeout=10)
    refused = requests.options(url, headers={**asked, "Origin": "https://evil.test"}, timeout=10)

    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == LOCAL_PAGE
    assert allowed.headers["Access-Control-Allow-Methods"] == "POST"
    assert refused.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_the_fill_token_route_issues_tokens_and_the_minimum_fill_time_holds(stack: LocalStack) -> None:
    issued = requests.get(f"{stack.webhook_url('contact-timed')}/token", headers={"Origin": LOCAL_PAGE}, timeout=10)
    form = {"name": "Jan Kowalski", "email": "jan.e2e@example.pl", "_gotcha": ""}
    url = stack.webhook_url("contact-timed")

    # Posted at once with the token just issued: too fast for a person.
    too_fast = requests.post(url, data={**form, "_fill_token": issued.json()["token"]}, headers=BROWSER, timeout=10)
    # A token the site's own server put in the page ten seconds ago.
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=10)
    server_side = issue_fill_token(TIMED_KEY, "contact-timed", earlier)
    accepted = requests.post(
        url, data={**form, "_fill_token": server_side}, headers=BROWSER, timeout=10, allow_redirects=False
    )

    assert issued.status_code == 200
    assert issued.headers["Access-Control-Allow-Origin"] == LOCAL_PAGE
    assert issued.json()["field"] == "_fill_token"
    assert too_fast.status_code == 422
    assert "wait a few seconds and send it again" in too_fast.text
    assert (accepted.status_code, accepted.headers["Location"]) == (303, THANKS)
    assert stored(stack, "jan.e2e@example.pl")["full_name"] == "Jan Kowalski"
