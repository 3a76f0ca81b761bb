"""Records for the store tests, with just the fields a test cares about."""

from __future__ import annotations

from typing import Any

from webhooksd.kazoo.ids import new_id
from webhooksd.records import Account, AttemptRecord, AttemptResult, HookDoc


def account(account_id: str, *ancestors: str, **fields: Any) -> Account:
    """An account under ``ancestors`` (root first); its parent is the last of them."""
    return Account(
        id=account_id,
        name=fields.pop("name", f"account {account_id}"),
        parent_id=ancestors[-1] if ancestors else None,
        tree=ancestors,
        **fields,
    )


def hook(hook_id: str, account_id: str, **doc: Any) -> HookDoc:
    """A hook document with Crossbar's required fields, overridable through ``doc``."""
    body: dict[str, Any] = {
        "name": f"hook {hook_id}",
        "uri": "http://127.0.0.1:1/hook",
        "hook": "channel_create",
        "http_verb": "post",
        "retries": 2,
        "enabled": True,
    }
    body.update(doc)
    return HookDoc(id=hook_id, account_id=account_id, doc=body)


def attempt(
    account_id: str,
    hook_id: str,
    created_ms: int,
    *,
    attempt_id: str | None = None,
    failed: bool = False,
    payload: dict[str, Any] | None = None,
    event_id: str | None = None,
    **doc: Any,
) -> AttemptRecord:
    """One attempt; failures count towards auto-disable; ``doc`` adds record fields
    (``call_id``, ``resp_status_code``…)."""
    result: AttemptResult = "failure" if failed else "success"
    return AttemptRecord(
        id=attempt_id or new_id(),
        account_id=account_id,
        hook_id=hook_id,
        event_id=event_id or new_id(),
        created_ms=created_ms,
        result=result,
        counts_as_failure=failed,
        doc={
            "hook_id": hook_id,
            "result": result,
            "reason": "bad response" if failed else None,
            **doc,
        },
        payload=payload,
    )
