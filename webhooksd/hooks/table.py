"""The in-memory hook table (Kazoo's ETS table ``webhooks_listener``) and account index.

Only enabled hooks are kept. Finding the hooks of one (account, event) reads two small dicts
per account in the tree; it never scans other accounts' hooks. The hooks of a disabled account
(Kazoo's ``pvt_enabled: false``) stay in the table but never fire — not for its own events, nor
as an ancestor's ``include_subaccounts`` hook — so enabling the account again needs no reload.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from webhooksd.hooks.contract import AccountInfo
from webhooksd.records import ALL_HOOK, Account, Hook


@dataclass(frozen=True, slots=True)
class _AccountEntry:
    tree: tuple[str, ...]
    is_reseller: bool
    enabled: bool = True


class HookTable:
    """Enabled hooks indexed by account then event, plus the account tree they need."""

    def __init__(self) -> None:
        # account id → hook event → hook id → hook
        self._by_account: dict[str, dict[str, dict[str, Hook]]] = {}
        self._by_id: dict[str, Hook] = {}
        self._accounts: dict[str, _AccountEntry] = {}

    # -- hooks ---------------------------------------------------------------------------
    def put(self, hook: Hook) -> None:
        """Add or replace a hook; a disabled hook is removed instead."""
        self.remove(hook.id)
        if not hook.enabled:
            return
        self._by_id[hook.id] = hook
        events = self._by_account.setdefault(hook.account_id, {})
        events.setdefault(hook.hook, {})[hook.id] = hook

    def remove(self, hook_id: str) -> Hook | None:
        old = self._by_id.pop(hook_id, None)
        if old is None:
            return None
        events = self._by_account.get(old.account_id, {})
        hooks = events.get(old.hook, {})
        hooks.pop(hook_id, None)
        if not hooks:
            events.pop(old.hook, None)
        if not events:
            self._by_account.pop(old.account_id, None)
        return old

    def remove_account(self, account_id: str) -> list[str]:
        """Drop the account's own hooks (sub-accounts' stay, as in Kazoo) and the account."""
        events = self._by_account.pop(account_id, {})
        removed = [hook_id for hooks in events.values() for hook_id in hooks]
        for hook_id in removed:
            self._by_id.pop(hook_id, None)
        self._accounts.pop(account_id, None)
        return removed

    def get(self, hook_id: str) -> Hook | None:
        return self._by_id.get(hook_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def hooks(self, account_id: str | None = None) -> list[Hook]:
        if account_id is None:
            return list(self._by_id.values())
        return [
            h for hooks in self._by_account.get(account_id, {}).values() for h in hooks.values()
        ]

    def find(self, hook_event: str, account_id: str | None) -> list[Hook]:
        """Kazoo's ``find_webhooks/2``: own hooks for the event and ``all``, then each
        ancestor's (root first) that include sub-accounts. An unknown account finds none."""
        if account_id is None:
            return []
        entry = self._accounts.get(account_id)
        if entry is None:
            return []
        found = self._matching(account_id, hook_event) if entry.enabled else []
        for ancestor in entry.tree:
            if ancestor != account_id and self._enabled(ancestor):
                found.extend(
                    h for h in self._matching(ancestor, hook_event) if h.include_subaccounts
                )
        return found

    def _enabled(self, account_id: str) -> bool:
        # an ancestor this instance does not know (yet) keeps its hooks firing, as before
        entry = self._accounts.get(account_id)
        return entry is None or entry.enabled

    def _matching(self, account_id: str, hook_event: str) -> list[Hook]:
        events = self._by_account.get(account_id)
        if not events:
            return []
        own = list(events.get(hook_event, {}).values())
        if hook_event != ALL_HOOK:
            own.extend(events.get(ALL_HOOK, {}).values())
        return own

    # -- accounts ------------------------------------------------------------------------
    def put_account(self, account: Account) -> None:
        self._accounts[account.id] = _AccountEntry(
            tuple(account.tree), account.is_reseller, account.enabled
        )

    def put_accounts(self, accounts: Iterable[Account]) -> None:
        for account in accounts:
            self.put_account(account)

    def account(self, account_id: str) -> AccountInfo | None:
        entry = self._accounts.get(account_id)
        if entry is None:
            return None
        return AccountInfo(
            id=account_id, tree=entry.tree, reseller_id=self._reseller(entry, account_id)
        )

    def _reseller(self, entry: _AccountEntry, account_id: str) -> str | None:
        """The nearest reseller above the account, else the root (the master account); a root
        reseller (the master) is its own reseller, as in Kazoo's services documents."""
        if not entry.tree:
            return account_id if entry.is_reseller else None
        for ancestor in reversed(entry.tree):
            parent = self._accounts.get(ancestor)
            if parent is not None and parent.is_reseller:
                return ancestor
        return entry.tree[0]

    @property
    def account_count(self) -> int:
        return len(self._accounts)
