"""Fixtures for the API tests: the real SQLite store, the in-memory bus, a recording
``HookTester``, the nine stock hook types' metadata and a client around ``create_app``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from webhooksd.accounts import bootstrap_master, create_account
from webhooksd.api import ApiDeps, create_app
from webhooksd.bus import Bus, open_bus
from webhooksd.config import Settings
from webhooksd.hooks.contract import Metadata
from webhooksd.kazoo.ids import new_id
from webhooksd.kazoo.timeutil import now_ms
from webhooksd.records import Account, AttemptRecord, Hook
from webhooksd.runtime.metrics import Metrics
from webhooksd.store import Store, open_store

OBJECT_TYPES = [
    "all",
    "account",
    "callflow",
    "device",
    "faxbox",
    "media",
    "user",
    "vmbox",
    "fax",
    "mailbox_message",
    "call_recording",
]
NOTIFICATION_TYPES = [
    "all",
    "account_zone_change",
    "bill_reminder",
    "cf_notification",
    "cnam_request",
    "customer_update",
    "denied_emergency_bridge",
    "deregister",
    "emergency_bridge",
    "first_occurrence",
    "inbound_fax",
    "inbound_fax_error",
    "low_balance",
    "missed_call",
    "new_account",
    "new_user",
    "number_feature_manual_action",
    "outbound_fax",
    "outbound_fax_error",
    "outbound_smtp_fax_error",
    "password_recovery",
    "port_cancel",
    "port_comment",
    "port_pending",
    "port_rejected",
    "port_request",
    "port_scheduled",
    "port_unconfirmed",
    "ported",
    "register",
    "service_added",
    "system_alert",
    "topup",
    "transaction",
    "voicemail_full",
    "voicemail_new",
    "voicemail_saved",
    "webhook",
    "webhook_disabled",
]

STOCK_METADATA: tuple[Metadata, ...] = (
    Metadata(id="sms", name="SMS", description="Receive notifications when sms is received"),
    Metadata(id="mms", name="MMS", description="Receive notifications when mms is received"),
    Metadata(
        id="object",
        name="Object",
        description="Receive notifications when objects (like JSON document objects) in Kazoo "
        "are changed",
        modifiers={
            "type": {
                "type": "array",
                "description": "A list of object types to handle",
                "items": OBJECT_TYPES,
            },
            "action": {
                "type": "array",
                "description": "A list of object actions to handle",
                "items": ["all", "doc_created", "doc_edited", "doc_deleted"],
            },
        },
    ),
    Metadata(
        id="notifications",
        name="Notifications Webhook",
        description="Fire a webhook when a notification event is triggered in Kazoo",
        modifiers={
            "type": {
                "type": "object",
                "description": "A list of notification types to handle",
                "items": {
                    t: {
                        "friendly_name": t.replace("_", " ").title(),
                        "description": f"The {t} notification",
                    }
                    for t in NOTIFICATION_TYPES
                },
            }
        },
    ),
    Metadata(id="channel_create", name="Channel Create", description="Events when new calls start"),
    Metadata(
        id="channel_answer",
        name="Channel Answer",
        description="Events for when the channel is answered by the endpoint",
    ),
    Metadata(
        id="channel_bridge",
        name="Channel Bridge",
        description="Events for when the channel is bridged to another",
    ),
    Metadata(id="channel_destroy", name="Channel Destroy", description="Events when calls end"),
    Metadata(
        id="parking", name="Call Parking", description="Events when calls get parked/retrieved"
    ),
)


@dataclass
class RecordingTester:
    """A ``HookTester`` that records what it was asked to send and answers success."""

    store: Store
    sent: list[tuple[Hook, dict[str, Any]]] = field(default_factory=list)
    replayed: list[AttemptRecord] = field(default_factory=list)

    async def _record(
        self,
        hook_id: str,
        account_id: str,
        payload: Mapping[str, Any],
        event_id: str | None = None,
    ) -> AttemptRecord:
        attempt = AttemptRecord(
            id=new_id(),
            account_id=account_id,
            hook_id=hook_id,
            # a replay keeps the event's id, as the Dispatcher's does
            event_id=event_id or new_id()[:10],
            created_ms=now_ms(),
            result="success",
            counts_as_failure=False,
            doc={"hook_id": hook_id, "result": "success", "method": "post"},
            payload=dict(payload),
        )
        await self.store.add_attempts([attempt])
        return attempt

    async def send_test(self, hook: Hook, payload: Mapping[str, Any]) -> AttemptRecord:
        self.sent.append((hook, dict(payload)))
        return await self._record(hook.id, hook.account_id, payload)

    async def replay(self, attempt: AttemptRecord) -> AttemptRecord:
        self.replayed.append(attempt)
        return await self._record(
            attempt.hook_id, attempt.account_id, attempt.payload or {}, attempt.event_id
        )


@dataclass
class Api:
    """A client for the app under test, with the master account's key at hand."""

    client: TestClient[Any, Any]
    store: Store
    bus: Bus
    tester: RecordingTester
    settings: Settings
    master: Account
    master_key: str
    readiness: dict[str, bool]

    def deps(self, **overrides: Any) -> ApiDeps:
        """What a second API instance on the same store and bus is built from: its own
        metrics and caches; ``overrides`` replace fields."""
        fields: dict[str, Any] = {
            "settings": self.settings,
            "store": self.store,
            "bus": self.bus,
            "metrics": Metrics(),
            "tester": self.tester,
            "readiness": dict,
        }
        return ApiDeps(**{**fields, **overrides})

    async def token(self, api_key: str | None = None) -> str:
        resp = await self.client.put(
            "/v2/api_auth", json={"data": {"api_key": api_key or self.master_key}}
        )
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["auth_token"])

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        data: Any = None,
        raw: bytes | None = None,
        **kwargs: Any,
    ) -> tuple[int, dict[str, Any], Any]:
        """Send one request (``data`` wrapped in the envelope, or ``raw`` bytes); return
        (status, body, headers)."""
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["X-Auth-Token"] = token
        if data is not None:
            kwargs["json"] = {"data": data}
        if raw is not None:
            kwargs["data"] = raw
        resp = await self.client.request(method, path, headers=headers, **kwargs)
        raw_body = await resp.read()
        json_answer = resp.content_type == "application/json" and raw_body
        body = await resp.json() if json_answer else {"text": raw_body.decode()}
        return resp.status, body, resp.headers

    async def sub_account(self, name: str, parent: str | None = None) -> tuple[Account, str]:
        return await create_account(self.store, name=name, parent_id=parent or self.master.id)


@pytest.fixture(name="settings")
def fixture_settings(tmp_path: Path) -> Settings:
    """Settings for tests: loopback hook targets allowed, a fixed node name."""
    return Settings(
        store_url=f"sqlite:///{tmp_path}/api.sqlite3",
        node_name="webhooksd@test",
        allow_private_targets=True,
    )


@pytest.fixture(name="store")
async def fixture_store(settings: Settings) -> AsyncIterator[Store]:
    """A real SQLite store in a temporary directory, seeded with the stock hook types."""
    async with open_store(settings.store_url) as store:
        for meta in STOCK_METADATA:
            await store.put_module_meta(meta.id, meta.to_doc())
        yield store


@pytest.fixture(name="bus")
async def fixture_bus() -> AsyncIterator[Bus]:
    """The in-process bus (Kazoo's exchanges declared)."""
    async with open_bus("memory://") as bus:
        yield bus


@pytest.fixture(name="api")
async def fixture_api(settings: Settings, store: Store, bus: Bus) -> AsyncIterator[Api]:
    """The app served on a real local port, with a master account bootstrapped."""
    master, key = await bootstrap_master(store)
    assert key is not None
    tester = RecordingTester(store=store)
    readiness = {"store": True, "bus": True}
    deps = ApiDeps(
        settings=settings,
        store=store,
        bus=bus,
        metrics=Metrics(),
        tester=tester,
        readiness=lambda: readiness,
    )
    async with TestClient(TestServer(create_app(deps))) as client:
        yield Api(
            client=client,
            store=store,
            bus=bus,
            tester=tester,
            settings=settings,
            master=master,
            master_key=key,
            readiness=readiness,
        )


@pytest.fixture(name="token")
async def fixture_token(api: Api) -> str:
    """A token of the master account."""
    return await api.token()
