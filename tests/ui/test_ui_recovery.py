"""Issue 14's recovery tools end to end in headless Chromium, against a real daemon and a real
loopback receiver: the test event edited before it is sent, copy buttons and "copy as curl"
(the copied command is run against the receiver and must repeat the request), and the bulk
resend of failed events with its dry-run count."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import parse_qs

import orjson
import pytest
from playwright.async_api import Page, expect

from tests.conftest import Received, Receiver
from tests.ui.conftest import UiDaemon, UiPage
from tests.ui.test_ui import row, sign_in
from tests.waiting import eventually

pytestmark = pytest.mark.ui

#: what shells and quoting get wrong: quotes, $, backticks, backslashes, a newline
TRICKY = 'it\'s "quoted" $HOME `id` \\n back\\slash\nnew line & ; | *'


async def put_hook(ui_daemon: UiDaemon, **doc: Any) -> dict[str, Any]:
    reply = await ui_daemon.api(
        "PUT", f"/accounts/{ui_daemon.account_id}/webhooks", {"hook": "channel_create", **doc}
    )
    hook: dict[str, Any] = reply["data"]
    return hook


async def hooks_loaded(ui_daemon: UiDaemon, count: int) -> None:
    """Wait until the daemon's hook table holds ``count`` hooks: a hook created through the
    API reaches it through the bus, and an event published before that matches nothing."""

    async def loaded() -> bool:
        async with ui_daemon.http.get(f"{ui_daemon.url}/metrics") as response:
            text = await response.text()
        found = re.search(r"^webhooksd_hooks_loaded (\S+)$", text, re.M)
        return found is not None and float(found[1]) == count

    await eventually(loaded, timeout=15, what=f"{count} hooks loaded")


async def attempts_of(ui_daemon: UiDaemon, hook_id: str) -> list[dict[str, Any]]:
    reply = await ui_daemon.api(
        "GET", f"/accounts/{ui_daemon.account_id}/webhooks/{hook_id}/attempts"
    )
    found: list[dict[str, Any]] = reply["data"]
    return found


async def run_shell(command: str) -> None:
    """Run the copied text as a POSIX shell would (the comment line included)."""
    shell = await asyncio.create_subprocess_exec(
        "sh", "-c", command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await shell.communicate()
    assert shell.returncode == 0, (out, err, command)


def assert_repeats(original: Received, repeated: Received, recorded: dict[str, Any]) -> None:
    """The curl request is the daemon's: method, path, query, body byte for byte, and every
    recorded header (a redacted one arrives as the placeholder)."""
    assert (repeated.method, repeated.path, repeated.query) == (
        original.method,
        original.path,
        original.query,
    )
    assert repeated.body == original.body
    for name, value in recorded.items():
        if value == "<redacted>":
            assert repeated.headers[name] == "<redacted>"
            assert original.headers[name] != "<redacted>"
        else:
            assert repeated.headers[name] == original.headers[name], name


async def open_test_editor(page: Page, name: str) -> Any:
    await row(page, name).get_by_role("button", name=f"Send a test event to {name}").click()
    editor = page.get_by_role("dialog", name=f"Test event: {name}")
    await expect(editor.get_by_label("Payload (JSON)")).to_be_visible()
    return editor


async def test_test_event_is_edited_checked_and_sent(
    ui: UiPage, ui_daemon: UiDaemon, receiver: Receiver
) -> None:
    """The editor starts from the event type's sample; bad JSON and non-objects are refused
    beside the editor without a request; the edited payload reaches the receiver with the
    hook's custom data, and is recorded as the test attempt."""
    hook = await put_hook(
        ui_daemon,
        name="Edited",
        uri=receiver.url + "/edited",
        http_verb="post",
        format="json",
        custom_data={"crm": "7"},
    )
    page = ui.page
    await sign_in(page)
    editor = await open_test_editor(page, "Edited")
    payload = editor.get_by_label("Payload (JSON)")
    start = orjson.loads(await payload.input_value())
    assert start["account_id"] == ui_daemon.account_id
    assert start["hook_event"] == "channel_create" and "call_id" in start
    await ui.screenshot("test-event", full_page=False)

    send = editor.get_by_role("button", name="Send this event")
    await payload.fill('{"call_id": "x",')
    await expect(editor.get_by_role("alert")).to_contain_text("Not valid JSON")
    await expect(payload).to_have_attribute("aria-invalid", "")
    await send.click()
    await payload.fill("[1, 2]")
    await expect(editor.get_by_role("alert")).to_contain_text("must be a JSON object")
    await send.click()
    await expect(editor).to_be_visible()
    assert receiver.requests == []

    edited = {**start, "call_id": "edited-call", "note": TRICKY, "_kept": True}
    await payload.fill(orjson.dumps(edited).decode())
    await expect(editor.get_by_role("alert")).to_have_text("")
    await send.click()
    dialog = page.get_by_role("dialog", name="Attempt details")
    await expect(dialog).to_contain_text("Delivered")
    (got,) = await receiver.wait_for(1)
    body = orjson.loads(got.body)
    assert (body["call_id"], body["note"], body["_kept"], body["crm"]) == (
        "edited-call",
        TRICKY,
        True,
        "7",
    )
    assert got.headers["webhook-id"].startswith("msg_test_")
    (recorded,) = await attempts_of(ui_daemon, hook["id"])
    assert orjson.loads(recorded["req_body"])["call_id"] == "edited-call"
    await dialog.get_by_role("button", name="Close", exact=True).click()

    # "Reset to the sample" brings the sample back
    editor = await open_test_editor(page, "Edited")
    await editor.get_by_label("Payload (JSON)").fill("{}")
    await editor.get_by_role("button", name="Reset to the sample").click()
    assert orjson.loads(await editor.get_by_label("Payload (JSON)").input_value()) == start


async def send_edited_test(page: Page, name: str, payload: dict[str, Any]) -> Any:
    editor = await open_test_editor(page, name)
    await editor.get_by_label("Payload (JSON)").fill(orjson.dumps(payload).decode())
    await editor.get_by_role("button", name="Send this event").click()
    dialog = page.get_by_role("dialog", name="Attempt details")
    await expect(dialog).to_contain_text("Delivered")
    return dialog


async def test_copy_as_curl_repeats_the_request(
    ui: UiPage, ui_daemon: UiDaemon, receiver: Receiver
) -> None:
    """ "Copy as curl" puts on the clipboard a command that, run by a shell, sends the
    receiver the request the daemon sent: a JSON POST with custom headers whose values need
    quoting, and a GET hook whose payload is in the query string. The signature stays
    redacted (a comment says so)."""
    await ui.page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=ui_daemon.url
    )
    await put_hook(
        ui_daemon,
        name="Posted",
        uri=receiver.url + "/posted?x=1&y=[a]",
        http_verb="post",
        format="json",
        custom_request_headers={"X-Quote": "it's $HOME `id`", "X-Empty": ""},
        secret="s3cret-signing-key-of-32-chars!",
    )
    await put_hook(ui_daemon, name="Fetched", uri=receiver.url + "/fetched", http_verb="get")
    page = ui.page
    await sign_in(page)
    clipboard = "navigator.clipboard.readText()"

    dialog = await send_edited_test(page, "Posted", {"note": TRICKY, "n": 1})
    await dialog.get_by_role("button", name="Copy as curl").click()
    await expect(page.locator("#toast")).to_contain_text("copied to the clipboard")
    command = await page.evaluate(clipboard)
    assert command.startswith("# redacted in the attempt record")
    assert "s3cret" not in command and "webhook-signature" in command
    (original,) = await receiver.wait_for(1)
    await run_shell(command)
    repeated = (await receiver.wait_for(2))[1]
    posted_id = (await ui_daemon.api("GET", f"/accounts/{ui_daemon.account_id}/webhooks"))["data"]
    by_name = {h["name"]: h["id"] for h in posted_id}
    (recorded,) = await attempts_of(ui_daemon, by_name["Posted"])
    assert_repeats(original, repeated, recorded["req_headers"])
    assert repeated.headers["X-Quote"] == "it's $HOME `id`"
    assert repeated.headers["X-Empty"] == ""
    await dialog.get_by_role("button", name="Close", exact=True).click()

    dialog = await send_edited_test(page, "Fetched", {"note": TRICKY, "list": ["a", "b"]})
    await dialog.get_by_role("button", name="Copy as curl").click()
    command = await page.evaluate(clipboard)
    original = (await receiver.wait_for(3))[2]
    assert original.method == "GET" and "note=" in original.query
    await run_shell(command)
    repeated = (await receiver.wait_for(4))[3]
    (recorded,) = await attempts_of(ui_daemon, by_name["Fetched"])
    assert_repeats(original, repeated, recorded["req_headers"])


async def test_copy_buttons_fall_back_to_a_selected_box(
    ui: UiPage, ui_daemon: UiDaemon, receiver: Receiver
) -> None:
    """Without a clipboard the hook id, the URL and the curl command are shown selected in a
    box beside their button; the command there works as well."""
    hook = await put_hook(ui_daemon, name="Boxed", uri=receiver.url + "/boxed?q='1'")
    page = ui.page
    await sign_in(page)
    await page.evaluate("Object.defineProperty(navigator, 'clipboard', { value: undefined })")
    await row(page, "Boxed").get_by_role("link", name="Request log of Boxed").click()
    await page.get_by_role("button", name="Copy id").click()
    box = page.get_by_label("The webhook id (select and copy)")
    await expect(box).to_have_value(hook["id"])
    await expect(box).to_be_focused()
    await page.get_by_role("button", name="Copy URL").click()
    await expect(page.get_by_label("The URL (select and copy)")).to_have_value(hook["uri"])
    await expect(page.locator("#toast")).to_contain_text("press Ctrl+C")

    await page.get_by_role("button", name="Send test event").click()
    await page.get_by_role("button", name="Send this event").click()
    dialog = page.get_by_role("dialog", name="Attempt details")
    await expect(dialog).to_contain_text("Delivered")
    await dialog.get_by_role("button", name="Copy as curl").click()
    command = await dialog.get_by_label("The curl command (select and copy)").input_value()
    (original,) = await receiver.wait_for(1)
    await run_shell(command)
    repeated = (await receiver.wait_for(2))[1]
    (recorded,) = await attempts_of(ui_daemon, hook["id"])
    assert_repeats(original, repeated, recorded["req_headers"])


async def test_resend_failed_events_after_an_outage(
    ui: UiPage, ui_daemon: UiDaemon, receiver: Receiver
) -> None:
    """Events that failed while the receiver was down are counted (a dry run: nothing is
    sent), then resent once each from the hook's log; counted again, nothing is left. The
    account's log counts only what failed since, of its enabled hooks."""
    hook = await put_hook(ui_daemon, name="Outage", uri=receiver.url + "/outage", retries=0)
    await hooks_loaded(ui_daemon, 1)
    receiver.status = 503
    for n in range(3):
        await ui_daemon.publish_channel_create(ui_daemon.account_id, f"lost-{n}")
    await receiver.wait_for(3, timeout=15)

    async def recorded() -> bool:
        return len(await attempts_of(ui_daemon, hook["id"])) == 3

    await eventually(recorded, timeout=15, what="three failed attempts recorded")
    receiver.status = 200
    page = ui.page
    await sign_in(page)
    await row(page, "Outage").get_by_role("link", name="Request log of Outage").click()
    await page.get_by_role("button", name="Resend failed…").click()
    dialog = page.get_by_role("dialog", name="Resend failed events: Outage")
    await expect(dialog.get_by_label(re.compile(r"^From \(.+\)$"))).to_be_visible()
    await dialog.get_by_role("button", name="Count").click()
    await expect(dialog.get_by_role("status")).to_have_text(
        "3 failed events would be resent (Outage: 3)."
    )
    assert len(receiver.requests) == 3  # a dry run sends nothing
    await ui.screenshot("resend", full_page=False)
    await dialog.get_by_role("button", name="Resend 3 events").click()
    await expect(dialog.get_by_role("status")).to_have_text(
        "Resent 3 events: 3 delivered, 0 failed."
    )
    resent = (await receiver.wait_for(6))[3:]
    got = sorted(parse_qs(r.body.decode())["call_id"][0] for r in resent)
    assert got == ["lost-0", "lost-1", "lost-2"]
    await dialog.get_by_role("button", name="Count").click()
    await expect(dialog.get_by_role("status")).to_have_text(
        "No failed event to resend in this period."
    )
    await expect(dialog.get_by_role("button", name=re.compile("^Resend \\d"))).to_be_hidden()
    await dialog.get_by_role("button", name="Close", exact=True).click()
    await expect(page.locator("table.log tbody tr")).to_have_count(6)

    # the account's log: a new failure counts, the ones resent do not
    receiver.status = 500
    await ui_daemon.publish_channel_create(ui_daemon.account_id, "lost-3")
    await receiver.wait_for(7, timeout=15)
    await eventually(
        lambda: _count_is(ui_daemon, hook["id"], 7), timeout=15, what="the new failure"
    )
    receiver.status = 200
    await page.get_by_role("link", name="← Back to webhooks").click()
    await page.get_by_role("link", name="Request log", exact=True).click()
    await page.get_by_role("button", name="Resend failed…").click()
    dialog = page.get_by_role("dialog", name="Resend failed events")
    await dialog.get_by_role("button", name="Count").click()
    await expect(dialog.get_by_role("status")).to_have_text(
        "1 failed event would be resent (Outage: 1)."
    )
    await dialog.get_by_role("button", name="Resend 1 event").click()
    await expect(dialog.get_by_role("status")).to_have_text(
        "Resent 1 event: 1 delivered, 0 failed."
    )
    (last,) = (await receiver.wait_for(8))[7:]
    assert "call_id=lost-3" in last.body.decode()


async def _count_is(ui_daemon: UiDaemon, hook_id: str, count: int) -> bool:
    return len(await attempts_of(ui_daemon, hook_id)) == count


async def test_reenabling_offers_the_resend(
    ui: UiPage, ui_daemon: UiDaemon, receiver: Receiver
) -> None:
    """A hook the server switched off is re-enabled from the list; the toast's "Resend
    failed events…" opens the dialog, whose count and resend cover what failed before."""
    hook = await put_hook(ui_daemon, name="Dropped", uri=receiver.url + "/dropped", retries=0)
    await hooks_loaded(ui_daemon, 1)
    receiver.status = 500
    for n in range(6):
        await ui_daemon.publish_channel_create(ui_daemon.account_id, f"dropped-{n}")
    # five failures open the endpoint's breaker: the sixth may fail unsent
    await receiver.wait_for(5, timeout=15)

    async def disabled() -> bool:
        doc = await ui_daemon.api("GET", f"/accounts/{ui_daemon.account_id}/webhooks/{hook['id']}")
        return doc["data"]["enabled"] is False

    await eventually(disabled, timeout=15, what="the hook disabled by the server")
    receiver.status = 200
    page = ui.page
    await sign_in(page)
    await row(page, "Dropped").get_by_role("button", name="Re-enable").click()
    toast = page.locator("#toast")
    await expect(toast).to_contain_text("Dropped was re-enabled")
    await toast.get_by_role("button", name="Resend failed events…").click()
    dialog = page.get_by_role("dialog", name="Resend failed events: Dropped")
    await dialog.get_by_role("button", name="Count").click()
    status = dialog.get_by_role("status")
    await expect(status).to_have_text(re.compile(r"^\d+ failed events? would be resent"))
    counted = int((await status.inner_text()).split()[0])
    failed = {a["event_id"] for a in await attempts_of(ui_daemon, hook["id"])}
    assert counted == len(failed) >= 1
    before = len(receiver.requests)
    await dialog.get_by_role("button", name=re.compile(r"^Resend \d+ events?$")).click()
    await expect(status).to_contain_text(f"{counted} delivered, 0 failed")
    assert len(await receiver.wait_for(before + counted)) == before + counted
