"""Authentication and authorization (Kazoo ``cb_api_auth``, ``cb_token_auth``,
``cb_simple_authz``).

``PUT /v2/api_auth`` trades an account's API key for a token. A token's account may act on
itself and on its descendants (its id is in their ``pvt_tree``); the master account may act on
every account; nobody else may.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from webhooksd.accounts import hash_api_key, master_account_id
from webhooksd.accounts.cache import AccountCache
from webhooksd.records import Account
from webhooksd.store import SYSTEM, Store

from . import tokens
from .envelope import Refusal, Reply, invalid_credentials
from .ratelimit import RateLimiter
from .request import Call, Identity

log = structlog.get_logger(__name__)

#: the system setting holding the token-signing secret every instance shares
TOKEN_SECRET_KEY = "token_secret"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthState:
    """What authentication needs beyond the deps: the shared secret, the buckets and the
    accounts every request reads."""

    secret: str
    limiter: RateLimiter | None
    accounts: AccountCache


AUTH = web.AppKey("auth", AuthState)


async def identify(auth: AuthState, token: str) -> tokens.TokenCheck | Identity:
    """The caller behind ``token``: an Identity, or why there is none. A token whose account
    was deleted since it was issued counts as invalid."""
    checked = tokens.check(auth.secret, token)
    if checked.state != "valid" or checked.account_id is None:
        return checked
    account = await auth.accounts.get(checked.account_id)
    if account is None:
        return tokens.TokenCheck(state="invalid")
    master = await auth.accounts.master_id()
    return Identity(account=account, is_master=account.id == master, token=token)


def may_manage(identity: Identity, account: Account) -> bool:
    """``cb_simple_authz``: self, an ancestor, or the master account."""
    return (
        identity.is_master
        or identity.account.id == account.id
        or identity.account.id in account.tree
    )


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
    token = tokens.issue(call.request.app[AUTH].secret, account.id, call.deps.settings.token_ttl_s)
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


async def load_auth_state(
    store: Store, rate_limit_per_s: int, new_secret: str, accounts: AccountCache
) -> AuthState:
    """Read (or create, first writer wins) the signing secret every instance shares."""
    secret = await store.setdefault_setting(SYSTEM, TOKEN_SECRET_KEY, new_secret)
    limiter = RateLimiter(rate_limit_per_s) if rate_limit_per_s > 0 else None
    return AuthState(secret=str(secret), limiter=limiter, accounts=accounts)
