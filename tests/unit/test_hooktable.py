"""The hook table: Kazoo's find_webhooks/2 over accounts, ancestors and `all` hooks."""

from __future__ import annotations

from webhooksd.hooks.table import HookTable
from webhooksd.records import Account, Hook

ROOT, RESELLER, CHILD, OTHER = "a" * 32, "b" * 32, "c" * 32, "d" * 32


def _hook(
    hook_id: str, account: str, event: str, *, subaccounts: bool = False, enabled: bool = True
) -> Hook:
    return Hook(
        id=hook_id,
        account_id=account,
        name=hook_id,
        uri="http://h.example/",
        hook=event,
        include_subaccounts=subaccounts,
        enabled=enabled,
    )


def _table() -> HookTable:
    table = HookTable()
    table.put_accounts(
        [
            Account(id=ROOT, name="root", is_reseller=True),
            Account(id=RESELLER, name="reseller", parent_id=ROOT, tree=(ROOT,), is_reseller=True),
            Account(id=CHILD, name="child", parent_id=RESELLER, tree=(ROOT, RESELLER)),
            Account(id=OTHER, name="other", parent_id=ROOT, tree=(ROOT,)),
        ]
    )
    return table


def test_find_own_hooks_and_all_hooks() -> None:
    """An account's hooks for the event and its `all` hooks are found; other events are not."""
    table = _table()
    table.put(_hook("h1", CHILD, "channel_create"))
    table.put(_hook("h2", CHILD, "all"))
    table.put(_hook("h3", CHILD, "channel_destroy"))
    assert {h.id for h in table.find("channel_create", CHILD)} == {"h1", "h2"}


def test_ancestors_only_with_include_subaccounts() -> None:
    """Ancestors' hooks fire for a sub-account only when they include sub-accounts."""
    table = _table()
    table.put(_hook("root-sub", ROOT, "object", subaccounts=True))
    table.put(_hook("root-own", ROOT, "object"))
    table.put(_hook("res-sub", RESELLER, "all", subaccounts=True))
    table.put(_hook("other-sub", OTHER, "object", subaccounts=True))
    found = [h.id for h in table.find("object", CHILD)]
    assert found == ["root-sub", "res-sub"]  # ancestors in tree order, root first


def test_unknown_account_and_missing_account_find_nothing() -> None:
    """Kazoo fires nothing for an account it cannot load, not even the account's own hooks."""
    table = _table()
    table.put(_hook("h1", "e" * 32, "channel_create"))
    assert table.find("channel_create", "e" * 32) == []
    assert table.find("channel_create", None) == []


def test_disabled_hooks_are_never_held() -> None:
    """Putting a disabled hook removes it; a hook stored disabled never fires."""
    table = _table()
    table.put(_hook("h1", CHILD, "sms"))
    table.put(_hook("h1", CHILD, "sms", enabled=False))
    assert table.find("sms", CHILD) == [] and len(table) == 0


def test_replace_moves_a_hook_between_events() -> None:
    """Editing a hook's event re-indexes it."""
    table = _table()
    table.put(_hook("h1", CHILD, "sms"))
    table.put(_hook("h1", CHILD, "mms"))
    assert table.find("sms", CHILD) == [] and [h.id for h in table.find("mms", CHILD)] == ["h1"]


def test_remove_account_keeps_subaccount_hooks() -> None:
    """Removing an account drops its own hooks only, as Kazoo's remove_account does."""
    table = _table()
    table.put(_hook("r1", RESELLER, "sms"))
    table.put(_hook("c1", CHILD, "sms"))
    assert table.remove_account(RESELLER) == ["r1"]
    assert table.get("c1") is not None and table.get("r1") is None


def test_reseller_id_is_nearest_reseller_ancestor() -> None:
    """A sub-account's reseller is its nearest reseller ancestor, else the root."""
    table = _table()
    info = table.account(CHILD)
    assert info is not None and info.reseller_id == RESELLER and info.tree == (ROOT, RESELLER)
    other = table.account(OTHER)
    assert other is not None and other.reseller_id == ROOT
    root = table.account(ROOT)
    assert root is not None and root.reseller_id == ROOT


def test_loaded_hook_keeps_only_what_dispatch_reads() -> None:
    """``Hook.from_doc`` keeps the keys no field holds (transforms, custom data as stored) and
    shares what 100k hooks have in common instead of copying it per hook."""
    from webhooksd.kazoo.payloads import hook_custom_data
    from webhooksd.records import HookDoc

    plain = {"name": "a", "uri": "http://r.example/h", "hook": "CHANNEL_CREATE", "retries": 3}
    first = Hook.from_doc(HookDoc(id="1" * 32, account_id="a" * 32, doc=plain))
    second = Hook.from_doc(HookDoc(id="2" * 32, account_id="a" * 32, doc=dict(plain)))
    assert (first.hook, first.retries, first.doc) == ("channel_create", 3, {})
    assert first.uri is second.uri and first.account_id is second.account_id
    assert first.doc is second.doc and first.custom_data is second.custom_data
    assert hook_custom_data(first) is None

    rich = {
        **plain,
        "custom_data": {},
        "filter": [{"field": "call_id", "exists": True}],
        "x_client_key": 1,
        "custom_request_headers": {"X-A": "b"},
        "secret": "whsec_x",
    }
    hook = Hook.from_doc(HookDoc(id="3" * 32, account_id="a" * 32, doc=rich))
    assert dict(hook.doc) == {
        "custom_data": {},
        "filter": [{"field": "call_id", "exists": True}],
        "x_client_key": 1,
    }
    # an empty custom_data object is not the same as none (Kazoo: it never matches)
    assert hook_custom_data(hook) == {}
    assert (dict(hook.custom_request_headers), hook.secret) == ({"X-A": "b"}, "whsec_x")


def test_disabled_account_hooks_do_not_fire() -> None:
    """A disabled account's own hooks and its include_subaccounts hooks find nothing; its
    sub-account's own hooks and enabled ancestors' still fire; enabling it brings them back."""
    table = _table()
    table.put(_hook("root", ROOT, "channel_create", subaccounts=True))
    table.put(_hook("reseller", RESELLER, "channel_create", subaccounts=True))
    table.put(_hook("child", CHILD, "channel_create"))
    reseller = Account(id=RESELLER, name="r", parent_id=ROOT, tree=(ROOT,), is_reseller=True)
    table.put_account(Account(id=RESELLER, name="r", parent_id=ROOT, tree=(ROOT,), enabled=False))
    # its own hook is silent; the enabled root's include_subaccounts hook still hears it
    assert [h.id for h in table.find("channel_create", RESELLER)] == ["root"]
    assert {h.id for h in table.find("channel_create", CHILD)} == {"child", "root"}
    assert len(table) == 3  # kept, only not fired
    table.put_account(reseller)
    assert {h.id for h in table.find("channel_create", CHILD)} == {"child", "root", "reseller"}
    assert [h.id for h in table.find("channel_create", RESELLER)] == ["reseller", "root"]
