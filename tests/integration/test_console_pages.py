"""The console's pages over moto: counts that filter in one click, records masked until revealed, a preview that is
exactly what the replay then sends, and the overview's figures."""

from __future__ import annotations

import datetime as dt
import html
import json
import re

from werkzeug.test import TestResponse

from nxbridge.console.params import AGE_WINDOWS
from nxbridge.replay import AGE_BUCKETS
from tests.fixtures.console import ConsoleHarness

ADA_PII = ("Ada Lovelace", "ada.lovelace@example.com", "+44 20 7946 0958", "ghost-seat@example.com", "442079460958")


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def listed_ids(page: str) -> set[str]:
    return set(re.findall(r'href="/dlq/([^"]+)"', page))


def filter_href(page: str, parameter: str, value: str) -> str:
    [href] = re.findall(rf'data-filter="{re.escape(parameter)}:{re.escape(value)}" href="([^"]+)"', page)
    return html.unescape(href)


def test_each_count_filters_the_list_in_one_click(console: ConsoleHarness) -> None:
    seat = console.queues.bridge(code="12148")
    other = console.queues.bridge(code="1002", stage="bisect", endpoint="woocommerce")
    page = text(console.get("/dlq"))
    assert listed_ids(page) == {seat, other}
    assert re.search(r'data-filter="error_code:12148" href="[^"]+">12148</a></td><td class="num">1<', page)

    filtered = text(console.client.get(filter_href(page, "error_code", "12148")))
    assert listed_ids(filtered) == {seat}
    by_endpoint = text(console.client.get(filter_href(page, "endpoint", "woocommerce")))
    assert listed_ids(by_endpoint) == {other}
    by_stage = text(console.client.get(filter_href(filtered, "stage", "bisect")))
    assert listed_ids(by_stage) == set(), "a click adds its criterion to the ones already chosen"


def test_records_without_an_endpoint_are_counted_but_not_a_filter(console: ConsoleHarness) -> None:
    console.queues.decode("not an envelope")
    page = text(console.get("/dlq"))
    assert '<span class="muted">(none)</span></td><td class="num">1<' in page
    assert 'data-filter="endpoint:' not in page


def test_the_age_counts_filter_by_when_records_failed(console: ConsoleHarness) -> None:
    now = dt.datetime.now(dt.UTC)
    fresh = console.queues.bridge(at=now - dt.timedelta(minutes=5))
    day_old = console.queues.bridge(at=now - dt.timedelta(hours=30))
    old = console.queues.bridge(at=now - dt.timedelta(days=9))
    assert tuple(AGE_WINDOWS) == AGE_BUCKETS
    page = text(console.get("/dlq"))
    expected = {"<1h": {fresh}, "1-24h": set(), "1-7d": {day_old}, ">7d": {old}}
    for bucket, ids in expected.items():
        assert listed_ids(text(console.client.get(filter_href(page, "age", html.escape(bucket))))) == ids, bucket


def test_a_record_is_masked_until_the_operator_reveals_it(console: ConsoleHarness) -> None:
    message_id = console.queues.bridge(message="seat ghost-seat@example.com does not exist")
    masked = text(console.get(f"/dlq/{message_id}"))
    assert "12148" in masked and "seat ***om does not exist" in masked
    for value in ADA_PII:
        assert value not in masked, value
    assert "***ce" in masked and "***om" in masked
    assert console.audit_lines == []

    revealed = text(console.get(f"/dlq/{message_id}", reveal="1"))
    assert "Ada Lovelace" in revealed and "ghost-seat@example.com" in revealed
    [line] = [json.loads(line) for line in console.audit_lines]
    assert (line["audit"], line["records"]) == ("reveal", 1)


def test_the_list_masks_the_reasons(console: ConsoleHarness) -> None:
    console.queues.bridge(message="seat ghost-seat@example.com does not exist")
    page = text(console.get("/dlq"))
    assert "ghost-seat@example.com" not in page and "seat ***om does not exist" in page


def test_the_preview_is_exactly_what_the_replay_sends(console: ConsoleHarness) -> None:
    message_id = console.queues.bridge()
    form = {"id": message_id, "set": "belong_seat_user=agent@example.com", "drop_field": "email"}
    masked = text(console.post("/replay/preview", form))
    assert "<strong>1</strong> record would be sent" in masked
    for value in ("Ada Lovelace", "+44 20 7946 0958"):
        assert value not in masked, value
    assert console.queues.queued() == [], "a preview sends nothing"

    revealed = text(console.post("/replay/preview", {**form, "reveal": "1"}))
    [body] = re.findall(r'<pre class="planned-body">(.*?)</pre>', revealed, re.S)
    previewed = json.loads(html.unescape(body))
    assert previewed["customer"]["belong_seat_user"] == "agent@example.com" and "email" not in previewed["customer"]

    confirm = re.search(r'<form method="post" action="/replay/run" id="confirm-form">(.*?)</form>', revealed, re.S)
    assert confirm is not None
    hidden = [
        (html.unescape(n), html.unescape(v)) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', confirm[1])
    ]
    assert ("id", message_id) in hidden
    assert console.post("/replay/run", [pair for pair in hidden if pair[0] != "csrf"]).status_code == 303
    console.finish_jobs()
    [sent] = console.queues.queued_messages()
    assert json.loads(sent["Body"]) == previewed


def test_the_preview_lists_refusals_and_confirms_only_the_rest(console: ConsoleHarness) -> None:
    good = console.queues.bridge()
    tired = console.queues.bridge(replay_count=3)
    page = text(console.post("/replay/preview", {"error_code": "12148"}))
    assert "<strong>1</strong> record would be sent" in page and "<strong>1</strong> would be refused" in page
    assert "already replayed 3 times" in page
    confirm = page.split('id="confirm-form"', 1)[1].split("</form>", 1)[0]
    assert f'name="id" value="{good}"' in confirm and tired not in confirm


def test_a_bad_form_is_answered_on_the_form(console: ConsoleHarness) -> None:
    response = console.post("/replay/preview", {"set": "belong_seat_user", "error_code": "12148"})
    assert response.status_code == 400
    assert "is not field=value" in text(response)
    conflict = console.post("/replay/preview", {"set": "email=a@example.com", "drop_field": "email"})
    assert "fields both set and dropped: email" in text(conflict)


def test_the_overview_shows_the_pipeline_with_its_counts(console: ConsoleHarness) -> None:
    console.queues.bridge()
    console.queues.bridge()
    page = text(console.get("/"))
    assert re.search(r'id="dlq-depth">2<', page)
    assert re.search(r'id="queue-depth">0<', page)
    assert re.search(r'id="customers-synced">9<', page) and re.search(r'id="customers-failed">2<', page)
    assert re.search(r'id="webhooks-received">12<', page)
    assert "2025-06-02 10:15:00 UTC" in page and ">shopify</a>" in page


def test_the_simulator_page_masks_the_stored_customers_until_revealed(console: ConsoleHarness) -> None:
    masked = text(console.get("/simulator"))
    assert "Grace Hopper" not in masked and "grace.hopper@example.com" not in masked and "***er" in masked
    assert "Grace Hopper" in text(console.get("/simulator", reveal="1"))
