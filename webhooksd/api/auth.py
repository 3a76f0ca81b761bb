"""Who the caller is and what it may do (Kazoo ``cb_token_auth``, ``cb_simple_authz``), for
both faces of the API.

:func:`identify` turns the supplied credentials into an :class:`Identity` by asking each
verifier of :data:`VERIFIERS` in turn; the first that recognises the credentials decides.
:func:`authorize` is the one access decision: a token's account may act on itself and on its
descendants (its id is in their ``pvt_tree``), the master account on every account, nobody else
on anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from webhooksd.accounts import hash_api_key
from webhooksd.kazoo.tokens import KazooClaims
from webhooksd.records import Account
from webhooksd.store import SYSTEM

from . import tokens
from .deps import ACCOUNTS, DEPS, KAZOO_TOKENS, TOKEN_SECRET
from .envelope import forbidden, invalid_credentials

#: the system setting holding the token-signing secret every instance shares
TOKEN_SECRET_KEY = "token_secret"

#: who may call an endpoint:
#: ``public`` anyone; ``account`` a token that manages the URL's account; ``master`` the
#: master account's token; ``refused`` allowed by Crossbar's method table but never granted
#: (401 without a token, 403 with one)
Access = Literal["public", "account", "master", "refused"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """What the caller presented: a token (each face has its headers for it) and, on the
    Webitel face, an account API key."""

    token: str | None = None
    api_key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """The authenticated caller: its account, whether that is the master account, and the
    token it presented ("" when it authenticated with an API key)."""

    account: Account
    is_master: bool
    token: str


#: what a verifier says: the caller, "expired" (a genuine token past its time: 401 whatever
#: else was presented), or None (not credentials this verifier knows: ask the next one)
Verdict = Identity | Literal["expired"] | None
Verifier = Callable[[web.Application, Credentials], Awaitable[Verdict]]


async def _standing(app: web.Application, account: Account) -> bool:
    """Kazoo refuses API access to a disabled account and to every account under a disabled
    one (``pvt_enabled`` false on a parent blocks its sub-accounts). Read through the account
    cache, which a change announced by any instance empties, so a disable stops the tokens of
    the whole subtree at once."""
    if not account.enabled:
        return False
    for ancestor_id in account.tree:
        ancestor = await app[ACCOUNTS].get(ancestor_id)
        if ancestor is not None and not ancestor.enabled:
            return False
    return True


async def _caller(app: web.Application, account: Account, token: str) -> Identity | None:
    """The identity of ``account``, or None (unknown credentials) when it may not call."""
    if not await _standing(app, account):
        return None
    master = await app[ACCOUNTS].master_id()
    return Identity(account=account, is_master=account.id == master, token=token)


async def signed_token(app: web.Application, credentials: Credentials) -> Verdict:
    """Our own HS256 tokens (:mod:`webhooksd.api.tokens`). A token whose account was deleted
    or disabled since it was issued counts as unknown."""
    if not credentials.token:
        return None
    checked = tokens.check(app[TOKEN_SECRET], credentials.token)
    if checked.state == "expired":
        return "expired"
    if checked.state != "valid" or checked.account_id is None:
        return None
    account = await app[ACCOUNTS].get(checked.account_id)
    return await _caller(app, account, credentials.token) if account is not None else None


async def kazoo_token(app: web.Application, credentials: Credentials) -> Verdict:
    """A token Kazoo's Crossbar issued (kazoo_auth's RS256 JWT, :mod:`webhooksd.kazoo.tokens`),
    for an account the store knows under its Kazoo id."""
    verifier = app[KAZOO_TOKENS]
    if not credentials.token or verifier is None:
        return None
    checked = await verifier.check(credentials.token)
    if not isinstance(checked, KazooClaims):
        return "expired" if checked is not None and checked.reason == "expired" else None
    account = await app[ACCOUNTS].get(checked.account_id)
    return await _caller(app, account, credentials.token) if account is not None else None


async def api_key(app: web.Application, credentials: Credentials) -> Verdict:
    """An enabled account's API key (Webitel's ``X-Key``)."""
    if not credentials.api_key:
        return None
    account = await app[DEPS].store.account_by_api_key(hash_api_key(credentials.api_key))
    return await _caller(app, account, "") if account is not None else None


#: the verifiers, in the order they are asked
VERIFIERS: tuple[Verifier, ...] = (signed_token, kazoo_token, api_key)


async def identify(
    app: web.Application, credentials: Credentials
) -> Identity | Literal["expired", "anonymous"]:
    """The caller behind ``credentials``; "anonymous" when no verifier knows them."""
    for verify in VERIFIERS:
        verdict = await verify(app, credentials)
        if verdict is not None:
            return verdict
    return "anonymous"


def may_manage(identity: Identity, account: Account) -> bool:
    """``cb_simple_authz``: self, an ancestor, or the master account."""
    return (
        identity.is_master
        or identity.account.id == account.id
        or identity.account.id in account.tree
    )


def authorize(access: Access, identity: Identity | None, account: Account | None) -> None:
    """Raise Crossbar's 401 (no caller) or 403 (not this caller) unless ``access`` lets
    ``identity`` act on the URL's ``account``."""
    if access == "public":
        return
    if identity is None:
        raise invalid_credentials()
    if access == "refused" or (access == "master" and not identity.is_master):
        raise forbidden()
    if account is not None and not may_manage(identity, account):
        raise forbidden()


async def load_token_secret(app: web.Application, new_secret: str) -> str:
    """Read (or create, first writer wins) the signing secret every instance shares."""
    secret = await app[DEPS].store.setdefault_setting(SYSTEM, TOKEN_SECRET_KEY, new_secret)
    return str(secret)
