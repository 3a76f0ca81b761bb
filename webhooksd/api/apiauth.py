"""``PUT /v2/api_auth``: trade an account's API key for a token (Kazoo ``cb_api_auth``)."""

from __future__ import annotations

from typing import Any

import structlog

from webhooksd.accounts import hash_api_key, master_account_id
from webhooksd.records import Account
from webhooksd.store import Store

from . import tokens
from .deps import TOKEN_SECRET
from .envelope import Refusal, Reply, invalid_credentials
from .request import Call

log = structlog.get_logger(__name__)


async def reseller_id(store: Store, account: Account) -> str | None:
    """Kazoo's ``kz_services_reseller:get_id/1``: the account if it is a reseller, else the
    nearest reseller ancestor, else the master account."""
    if account.is_reseller:
        return account.id
    for ancestor_id in reversed(account.tree):
        ancestor = await store.get_account(ancestor_id)
        if ancestor is not None and ancestor.is_reseller:
            return ancestor.id
    return await master_account_id(store)


async def api_auth(call: Call) -> Reply:
    """``PUT /v2/api_auth``: 201 with the token in the envelope's ``auth_token``."""
    api_key = call.data_object.get("api_key")
    if not isinstance(api_key, str) or not api_key:
        required = {"message": "Field is required but missing", "value": "api_key"}
        raise Refusal(400, "validation error", {"api_key": {"required": required}})
    store = call.deps.store
    account = await store.account_by_api_key(hash_api_key(api_key))
    if account is None or not account.enabled:
        log.info("api_auth refused", reason="unknown or disabled api key")
        raise invalid_credentials()
    master = await master_account_id(store)
    secret = call.request.app[TOKEN_SECRET]
    token = tokens.issue(secret, account.id, call.deps.settings.token_ttl_s)
    data: dict[str, Any] = {
        "account_id": account.id,
        "account_name": account.name,
        "apps": [],
        "is_master_account": account.id == master,
        "is_reseller": account.is_reseller,
        "language": str(account.doc.get("language", "en-us")),
        "reseller_id": await reseller_id(store, account),
    }
    log.info("api_auth issued token", account_id=account.id)
    return Reply(data=data, status=201, auth_token=token)
