"""Shared test helpers: a recording HookContext over a real HookTable, accounts, hooks,
Kazoo's sample payloads and Kazoo-format AMQP bodies (kazoo-daemon §3)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import webhooksd
from webhooksd.hooks.contract import AccountInfo, Metadata, ModuleSettings
from webhooksd.hooks.table import HookTable
from webhooksd.kazoo.events import Event
from webhooksd.records import Account, Hook, HookDoc

SAMPLES_DIR = Path(webhooksd.__file__).resolve().parent / "data" / "samples"

MASTER = "11111111111111111111111111111111"
RESELLER = "026f4f0a6d99f9a19b6aa4aa75501d7d"
#: the account of Kazoo's channel samples
ACCOUNT = "91eb05e5c68d7ca05e7618b6821d2d16"
#: a sub-account of ACCOUNT
SUB = "22222222222222222222222222222222"
#: an unrelated account under the master
OTHER = "33333333333333333333333333333333"
#: the accounts of Kazoo's object, notifications and parking samples
OBJECT_ACCOUNT = "0e10f9365fb2383d0fa65e907bfe4cb3"
NOTIFY_ACCOUNT = "7600efb3424dc4b79854521fd4563d0a"
PARK_ACCOUNT = "5a2d994fbae69b1d6b01eb9f0e7dfe62"
#: an account id the table does not know
UNKNOWN = "44444444444444444444444444444444"


@dataclass(frozen=True)
class Fired:
    """One ``ctx.fire`` call."""

    event: Event
    payload: dict[str, Any]
    hooks: tuple[Hook, ...]
    #: the ``v2`` envelope the module passed, None when it left it to the daemon
    v2: dict[str, Any] | None = None

    @property
    def hook_ids(self) -> set[str]:
        return {h.id for h in self.hooks}


@dataclass
class RecordingContext:
    """A HookContext over a real HookTable that records what modules fire."""

    table: HookTable
    module_settings: ModuleSettings
    fired: list[Fired] = field(default_factory=list)
    metadata: list[Metadata] = field(default_factory=list)

    @property
    def settings(self) -> ModuleSettings:
        return self.module_settings

    def account(self, account_id: str) -> AccountInfo | None:
        return self.table.account(account_id)

    def find_hooks(self, hook_event: str, account_id: str | None) -> list[Hook]:
        return self.table.find(hook_event, account_id)

    async def fire(
        self,
        event: Event,
        payload: Mapping[str, Any],
        hooks: Sequence[Hook],
        *,
        v2: Mapping[str, Any] | None = None,
    ) -> None:
        self.fired.append(
            Fired(event, dict(payload), tuple(hooks), None if v2 is None else dict(v2))
        )

    async def init_metadata(self, metadata: Metadata) -> None:
        self.metadata.append(metadata)

    def only(self) -> Fired:
        """The single fire call; fails unless there was exactly one."""
        assert len(self.fired) == 1, f"expected one fire call, got {len(self.fired)}"
        return self.fired[0]


def accounts() -> list[Account]:
    """The account tree the tests use: master → reseller → accounts → sub-account."""
    under_reseller = (MASTER, RESELLER)
    return [
        Account(id=MASTER, name="master"),
        Account(id=RESELLER, name="reseller", parent_id=MASTER, tree=(MASTER,), is_reseller=True),
        Account(id=ACCOUNT, name="account", parent_id=RESELLER, tree=under_reseller),
        Account(id=SUB, name="sub", parent_id=ACCOUNT, tree=(*under_reseller, ACCOUNT)),
        Account(id=OTHER, name="other", parent_id=MASTER, tree=(MASTER,)),
        Account(id=OBJECT_ACCOUNT, name="object", parent_id=RESELLER, tree=under_reseller),
        Account(id=NOTIFY_ACCOUNT, name="notify", parent_id=RESELLER, tree=under_reseller),
        Account(id=PARK_ACCOUNT, name="park", parent_id=RESELLER, tree=under_reseller),
    ]


#: the envelope keys every Kazoo message carries (kz_api's ?DEFAULT_HEADERS, less the
#: category and name each test sets)
ENVELOPE: dict[str, str] = {
    "App-Name": "tests",
    "App-Version": "4.3.0",
    "Msg-ID": "0123456789abcdef",
}


def hook(hook_id: str, account_id: str, hook_event: str, **doc: Any) -> Hook:
    """A hook compiled from a stored document, as the daemon loads it."""
    public = {"name": hook_id, "uri": "http://127.0.0.1:9/hook", "hook": hook_event, **doc}
    return Hook.from_doc(HookDoc(id=hook_id, account_id=account_id, doc=public))


def event(exchange: str, routing_key: str, body: Mapping[str, Any]) -> Event:
    """An event as the shared listener hands it to a module."""
    return Event.from_body(exchange, routing_key, body)


def sample(name: str, index: int = 0) -> dict[str, Any]:
    """One of Kazoo's sample payloads as webhooksd ships them (``webhooks_<name>``)."""
    with (SAMPLES_DIR / f"webhooks_{name}-samples.json").open(encoding="utf-8") as f:
        payloads: list[dict[str, Any]] = json.load(f)
    return payloads[index]


def samples(name: str) -> list[dict[str, Any]]:
    """Every sample payload of ``webhooks_<name>``."""
    with (SAMPLES_DIR / f"webhooks_{name}-samples.json").open(encoding="utf-8") as f:
        payloads: list[dict[str, Any]] = json.load(f)
    return payloads


def call_event(name: str, **overrides: Any) -> dict[str, Any]:
    """A FreeSWITCH call event like kazoo-daemon §3.4's ``CHANNEL_CREATE`` example."""
    body: dict[str, Any] = {
        "Event-Category": "call_event",
        "Event-Name": name,
        "App-Name": "freeswitch",
        "App-Version": "1.0",
        "Msg-ID": "1557184198071108",
        "Node": "freeswitch@fs1.example.net",
        "Timestamp": 63724349409,
        "Call-ID": "NDlkNGI3OTZlMDgzNWQxNGYxNTA3NjQ4NDZjNDFkOTc",
        "Call-Direction": "inbound",
        "Channel-Name": "sofia/sipinterface_1/+15556783945@10.20.0.1",
        "Channel-Is-Loopback": False,
        "Channel-Created-Time": 1557184198071108,
        "Caller-ID-Name": "Test Man",
        "Caller-ID-Number": "+15556783945",
        "Callee-ID-Name": "Caller Test",
        "Callee-ID-Number": "+15556783945",
        "From": "+15556783945@matrix.test.com",
        "To": "+15552345678@matrix.test.com",
        "Request": "+15552345678@matrix.test.com",
        "Other-Leg-Call-ID": "af1e1e12f1bcf519a96f2235ab8eeec4",
        "Custom-Channel-Vars": {
            "Account-ID": ACCOUNT,
            "Authorizing-ID": "7f2b66a620cf9523d349cc5de8f21f37",
            "Authorizing-Type": "device",
            "Owner-ID": "d860229e722bf8f738737365b0b1e333",
            "Global-Resource": "false",
            "Resource-ID": "d88c4e753d18755ca71adbae784e5f10",
            "Inception": "+15556783945@matrix.test.com",
            "Call-Interaction-ID": "63724349409-af5b9a0e",
            "Fetch-ID": "1145a13a-7054-11e9-8374-6db32ce7807d",
        },
        "Custom-Application-Vars": {},
    }
    body.update(overrides)
    return body


def call_event_of(body: Mapping[str, Any]) -> Event:
    """The call event on ``callevt`` with its Kazoo routing key."""
    return event("callevt", f"call.{body['Event-Name']}.{body.get('Call-ID', 'x')}", body)


def doc_update(
    action: str, database: str, doc_type: str | None, doc_id: str, **extra: Any
) -> Event:
    """A ``kapi_conf`` doc_update message as kazoo_data publishes it (§3.5)."""
    body: dict[str, Any] = {
        "Event-Category": "configuration",
        "Event-Name": action,
        "App-Name": "datamgr",
        "App-Version": "4.0.0",
        "Node": "kazoo_apps@apps1.example.net",
        "Msg-ID": "0a1c7e53b4b0d8d6a8f0a5c3e1f2d4b6",
        "ID": doc_id,
        "Database": database,
        "Rev": "3-7b1f0c7f8e2e5d1a9c3b4a5d6e7f8091",
        "Is-Soft-Deleted": False,
        "Origin-Cache": "kazoo_data_cache",
        **extra,
    }
    if doc_type is not None:
        body["Type"] = doc_type
    return event("configuration", f"{action}.{database}.{doc_type}.{doc_id}", body)


def encoded_db(account_id: str) -> str:
    """``account%2FAA%2FBB%2Frest``."""
    return f"account%2F{account_id[:2]}%2F{account_id[2:4]}%2F{account_id[4:]}"
