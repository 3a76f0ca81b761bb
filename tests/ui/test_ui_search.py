"""The request log's search and one event's timeline, end to end: a real daemon delivering
Kazoo events to a real loopback receiver (one hook failing twice before it succeeds), and
headless Chromium searching the account's log and opening the timeline."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.conftest import Received, Receiver
from tests.ui.conftest import UiDaemon, UiPage
from tests.ui.test_ui import sign_in
from tests.waiting import eventually

#: retries due within a fraction of a second, so that the test sees them all
FAST_RETRIES = {"WEBHOOKSD_RETRY_BASE_DELAY_MS": "100", "WEBHOOKSD_RETRY_MAX_DELAY_MS": "300"}


async def add_hook(ui_daemon: UiDaemon, name: str, url: str) -> str:
    reply = await ui_daemon.api(
        "PUT",
        f"/accounts/{ui_daemon.account_id}/webhooks",
        {
            "name": name,
            "hook": "channel_create",
            "uri": url,
            "http_verb": "post",
            "format": "json",
            "retries": 2,
        },
    )
    return str(reply["data"]["id"])


async def account_attempts(ui_daemon: UiDaemon) -> list[dict[str, Any]]:
    path = f"/accounts/{ui_daemon.account_id}/webhooks/attempts?paginate=false"
    return list((await ui_daemon.api("GET", path))["data"])


def crm_fails_call_a_twice(receiver: Receiver) -> None:
    """CRM answers 503 to its first two deliveries of call-A's event, 200 to everything else."""
    failures = {"left": 2}

    def decide(got: Received) -> int:
        if got.path == "/crm" and b"call-A" in got.body and failures["left"]:
            failures["left"] -= 1
            return 503
        return 200

    receiver.decide = decide


async def hooks_loaded(ui_daemon: UiDaemon, count: int) -> bool:
    """Whether the daemon's hook table holds ``count`` hooks (it loads a new hook from the
    bus's change notice, after the API answered: an event published before would miss it)."""
    async with ui_daemon.http.get(f"{ui_daemon.url}/metrics") as response:
        text = await response.text()
    return f"webhooksd_hooks_loaded {float(count)}" in text


async def deliveries(ui_daemon: UiDaemon, receiver: Receiver) -> list[dict[str, Any]]:
    """call-A to Billing and CRM (503, 503 then 200 on retries), then call-B to both."""
    crm_fails_call_a_twice(receiver)
    await add_hook(ui_daemon, "Billing", f"{receiver.url}/billing")
    await add_hook(ui_daemon, "CRM", f"{receiver.url}/crm")
    await eventually(lambda: hooks_loaded(ui_daemon, 2), what="both hooks loaded")
    await ui_daemon.publish_channel_create(ui_daemon.account_id, "call-A")

    async def call_a_delivered() -> list[dict[str, Any]]:
        found = await account_attempts(ui_daemon)
        return found if len(found) == 4 else []

    await eventually(call_a_delivered, timeout=20, what="call-A's four attempts recorded")
    await ui_daemon.publish_channel_create(ui_daemon.account_id, "call-B")

    async def all_delivered() -> list[dict[str, Any]]:
        found = await account_attempts(ui_daemon)
        return found if len(found) == 6 else []

    return await eventually(all_delivered, timeout=20, what="six attempts recorded")


def rows(page: Page) -> Any:
    return page.locator("table.log tbody tr")


async def search(page: Page, **fields: str) -> None:
    """Fill the search bar (each field by its label, "" clears it) and search."""
    labels = {"call_id": "Call id", "event_id": "Event id", "status": "Status code"}
    pickers = {"hook": "Webhook", "result": "Result"}
    for name, value in fields.items():
        if name in labels:
            await page.get_by_label(labels[name], exact=True).fill(value)
        else:
            await page.get_by_label(pickers[name], exact=True).select_option(label=value)
    # the rows shown before may have the count expected after: wait for the answer
    async with page.expect_response(lambda r: "/webhooks/attempts?" in r.url):
        await page.get_by_role("button", name="Search", exact=True).click()


async def shown_ids(page: Page, count: int) -> set[str]:
    await expect(rows(page)).to_have_count(count)
    return {str(await r.get_attribute("data-attempt-id")) for r in await rows(page).all()}


def ids_where(attempts: list[dict[str, Any]], **match: Any) -> set[str]:
    return {a["id"] for a in attempts if all(a.get(k) == v for k, v in match.items())}


@pytest.mark.parametrize("daemon_env", [FAST_RETRIES])
async def test_search_the_account_log(ui: UiPage, ui_daemon: UiDaemon, receiver: Receiver) -> None:
    """Search by call id, status code (exact and class), result and webhook: the rows shown
    are the attempts the API says match; the time zone of the period is named."""
    attempts = await deliveries(ui_daemon, receiver)
    page = ui.page
    await sign_in(page)
    await page.get_by_role("link", name="Request log", exact=True).click()
    await expect(rows(page)).to_have_count(6)
    await expect(page.get_by_role("search")).to_contain_text("Days and times in")
    await search(page, call_id="call-A")
    assert await shown_ids(page, 4) == ids_where(attempts, call_id="call-A")
    await search(page, call_id="", status="503")
    failed = ids_where(attempts, resp_status_code="503")
    assert len(failed) == 2 and await shown_ids(page, 2) == failed
    await search(page, status="5xx")
    assert await shown_ids(page, 2) == failed
    await expect(rows(page)).to_contain_text(["CRM", "CRM"])
    await search(page, status="", result="Successes only", hook="Billing")
    assert await shown_ids(page, 2) == {
        a["id"] for a in attempts if a["uri"].endswith("/billing") and a["result"] == "success"
    }
    await search(page, hook="All webhooks", result="All results", call_id="call-B")
    assert await shown_ids(page, 2) == ids_where(attempts, call_id="call-B")
    await ui.screenshot("search")
    await search(page, call_id="nothing-like-it")
    await expect(rows(page)).to_have_count(0)


@pytest.mark.parametrize("daemon_env", [FAST_RETRIES])
async def test_search_refuses_a_bad_status_code(ui: UiPage, ui_daemon: UiDaemon) -> None:
    """A status code that is not one says so and leaves the rows as they were."""
    page = ui.page
    await sign_in(page)
    await page.get_by_role("link", name="Request log", exact=True).click()
    await page.get_by_label("Status code", exact=True).fill("600")
    await page.get_by_role("button", name="Search", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("status code")
    ui.console.errors.clear()  # the error banner logs what it shows


async def timeline_kinds(page: Page, hook: str) -> list[str]:
    section = page.get_by_role("dialog", name="Event timeline").locator(
        "section.timeline-hook", has_text=hook
    )
    entries = section.locator("li.timeline-entry")
    return [str(await e.get_attribute("data-kind")) for e in await entries.all()]


@pytest.mark.parametrize("daemon_env", [FAST_RETRIES])
async def test_an_events_timeline(ui: UiPage, ui_daemon: UiDaemon, receiver: Receiver) -> None:
    """From a row of the log, the event's timeline: per webhook, the first attempt and its
    retries in order with status, cause and duration; a resend then shows as a replay."""
    await deliveries(ui_daemon, receiver)
    page = ui.page
    await sign_in(page)
    await page.get_by_role("link", name="Request log", exact=True).click()
    await search(page, call_id="call-A", hook="CRM", status="503")
    await expect(rows(page)).to_have_count(2)
    await rows(page).first.get_by_role("button", name="Timeline").click()
    dialog = page.get_by_role("dialog", name="Event timeline")
    await expect(dialog).to_contain_text("of call call-A: 4 deliveries to 2 webhooks")
    crm = dialog.locator("section.timeline-hook", has_text="CRM")
    entries = crm.locator("li.timeline-entry")
    await expect(entries).to_have_count(3)
    await expect(entries.locator(".timeline-kind")).to_have_text(
        ["First attempt", "Retry (attempt 2)", "Retry (attempt 3)"]
    )
    await expect(entries.locator(".timeline-status")).to_have_text(
        ["HTTP 503", "HTTP 503", "HTTP 200"]
    )
    await expect(entries.locator(".timeline-result")).to_have_text(
        ["HTTP 503", "HTTP 503", "success"]
    )
    await expect(entries.locator(".timeline-duration").first).to_contain_text(" ms")
    assert await timeline_kinds(page, "Billing") == ["first"]
    await ui.screenshot("timeline", full_page=False)
    await dialog.get_by_role("button", name="Close", exact=True).click()
    # resend the first failure: the event's timeline gains a replay, last
    await rows(page).last.get_by_role("button", name="Resend").click()
    details = page.get_by_role("dialog", name="Attempt details")
    await expect(details).to_contain_text("Delivered")
    await details.get_by_role("button", name="Close", exact=True).click()
    await rows(page).last.get_by_role("button", name="Timeline").click()
    await expect(entries).to_have_count(4)
    assert await timeline_kinds(page, "CRM") == ["first", "retry", "retry", "replay"]
    await expect(entries.last.locator(".timeline-kind")).to_have_text("Replay")
