"""Kazoo-issued tokens in ``X-Auth-Token``: a developer signed in to Kazoo (MonsterUI) uses
webhooksd with the token Crossbar gave them, verified with the key kazoo_auth keeps in CouchDB."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.couch import CouchServer
from tests.kazootokens import ACCOUNT, KID, kazoo_token, rsa_key, store_system_key
from webhooksd.config import Settings
from webhooksd.records import Account

from .conftest import Api
from .test_monsterui import monsterui_sequence


@pytest.fixture(name="settings")
async def fixture_kazoo_settings(
    tmp_path: Path, couch_server: CouchServer
) -> AsyncIterator[Settings]:
    """The API's test settings beside a Kazoo whose CouchDB holds kazoo_auth's system key."""
    await store_system_key(couch_server, KID, rsa_key())
    yield Settings(
        store_url=f"sqlite:///{tmp_path}/api.sqlite3",
        node_name="webhooksd@test",
        allow_private_targets=True,
        kazoo_couch_url=couch_server.url,
    )


async def kazoo_account(api: Api) -> Account:
    """The customer account, known to the store under its Kazoo id (as the mirror makes it)."""
    account = Account(id=ACCOUNT, name="customer", parent_id=api.master.id, tree=(api.master.id,))
    return await api.store.create_account(account)


async def test_monsterui_works_with_a_kazoo_token(api: Api) -> None:
    """The MonsterUI webhooks app's calls succeed with the token Kazoo's Crossbar issued."""
    account = await kazoo_account(api)
    await monsterui_sequence(api, account, kazoo_token())


async def test_altered_expired_or_foreign_kazoo_tokens_are_401(api: Api) -> None:
    """Crossbar's 401 envelope for an altered, expired or unknown-key token, and for a token
    of an account webhooksd does not know."""
    account = await kazoo_account(api)
    path = f"/v2/accounts/{account.id}/webhooks"
    status, _, _ = await api.call("GET", path, token=kazoo_token())
    assert status == 200

    header, payload, signature = kazoo_token().split(".")
    altered = f"{header}.{payload}.{signature[:-4]}AAAA"
    expired = kazoo_token(exp=int(time.time()) - 5)
    other_key = kazoo_token(key=rsa_key(1))
    unknown_kid = kazoo_token(kid="0" * 32)
    unknown_account = kazoo_token(account_id="c" * 32)
    for token in (altered, expired, other_key, unknown_kid, unknown_account):
        status, body, _ = await api.call("GET", path, token=token)
        assert status == 401, body
        assert body["status"] == "error"
        assert body["error"] == "401"


async def test_a_kazoo_token_acts_only_within_its_account_tree(api: Api) -> None:
    """The account comes from the token's claims: another account's hooks are 403."""
    await kazoo_account(api)
    sibling, _ = await api.sub_account("sibling")
    status, _, _ = await api.call("GET", f"/v2/accounts/{sibling.id}/webhooks", token=kazoo_token())
    assert status == 403
