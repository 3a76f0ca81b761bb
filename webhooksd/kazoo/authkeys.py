"""Where Kazoo's token keys are found (``kz_auth_keys``), and checking a token with them.

kazoo_auth signs with its system key: ``system_config/auth`` names its id (``default.
system_key``), and the key itself is the attachment ``private_key.pem`` of the document of that
id in ``system_auth`` (``kz_auth_keys:load_private_key/1``); the public key is derived from it.
An operator may instead name a PEM file (``kazoo_auth_public_key_file``), which then verifies
every Kazoo token.

A caller chooses the ``kid`` it sends, so a ``kid`` must never cost a CouchDB read per request:
only the current system key's id is looked up, the id itself is re-read at most once per
``refresh_s``, and the key of that id is cached (by kid) for as long. While CouchDB is
unreachable the last key read keeps serving. Unlike Kazoo, nothing is ever written: where
kazoo_auth would generate a missing key, here the token is refused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import structlog
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from webhooksd.bounded import BoundedCache
from webhooksd.config import Settings
from webhooksd.errors import ConfigError, CouchError
from webhooksd.kazoo.couch import Couch

from . import tokens

log = structlog.get_logger(__name__)

#: kazoo_auth's databases and names (``kazoo_auth.hrl``, ``kz_databases.hrl``)
SYSTEM_CONFIG_DB = "system_config"
AUTH_CONFIG_ID = "auth"
AUTH_DB = "system_auth"
KEY_ATTACHMENT = "private_key.pem"

#: keys remembered by kid: the system key, and the few it was before a rotation
MAX_KEYS = 8


class KeySource(Protocol):
    """Protocol: the public key a token's ``kid`` names, or None when none is known."""

    async def key(self, kid: str) -> RSAPublicKey | None: ...


@dataclass(frozen=True, slots=True)
class FileKey:
    """One key from a PEM file, for every kid (the operator said: this is Kazoo's key)."""

    public_key: RSAPublicKey

    @classmethod
    def load(cls, path: str) -> FileKey:
        try:
            return cls(tokens.public_key_from_pem(Path(path).read_bytes()))
        except (OSError, ValueError) as exc:
            raise ConfigError("kazoo_auth_public_key_file", f"cannot read a key: {exc}") from exc

    async def key(self, kid: str) -> RSAPublicKey | None:
        return self.public_key


@dataclass(frozen=True, slots=True)
class _Read:
    """What one read found, and when (on the source's clock)."""

    value: RSAPublicKey | str | None
    at: float


class CouchKeys:
    """kazoo_auth's system key, read from Kazoo's CouchDB and cached by kid."""

    def __init__(
        self, couch: Couch, *, refresh_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._couch = couch
        self._refresh_s = refresh_s
        self._clock = clock
        self._system_id: _Read | None = None
        self._keys: BoundedCache[str, _Read] = BoundedCache(MAX_KEYS)
        # one reader at a time: a burst of requests with a new kid makes one read, not many
        self._lock = asyncio.Lock()
        #: CouchDB requests made (tests and logs read it)
        self.reads = 0

    def _fresh(self, read: _Read | None) -> bool:
        return read is not None and self._clock() - read.at < self._refresh_s

    async def key(self, kid: str) -> RSAPublicKey | None:
        cached = self._keys.get(kid)
        if self._fresh(cached) and self._fresh(self._system_id):
            return self._current(kid, cached)
        async with self._lock:
            system_id = await self._system_key_id()
            if kid != system_id:
                return None  # never issued by this Kazoo's kazoo_auth: no read for it
            cached = self._keys.get(kid)
            if not self._fresh(cached):
                cached = await self._read_key(kid, cached)
                self._keys.put(kid, cached)
            return self._current(kid, cached)

    def _current(self, kid: str, cached: _Read | None) -> RSAPublicKey | None:
        system = self._system_id.value if self._system_id is not None else None
        if cached is None or kid != system or not isinstance(cached.value, RSAPublicKey):
            return None
        return cached.value

    async def _system_key_id(self) -> str | None:
        if self._fresh(self._system_id):
            assert self._system_id is not None
            return self._system_id.value if isinstance(self._system_id.value, str) else None
        previous = self._system_id.value if self._system_id is not None else None
        try:
            self.reads += 1
            doc = await self._couch.get_doc(SYSTEM_CONFIG_DB, AUTH_CONFIG_ID)
        except CouchError as exc:
            log.warning("kazoo system key id not read; keeping the last", error=str(exc))
            self._system_id = _Read(previous, self._clock())
            return previous if isinstance(previous, str) else None
        default = doc.get("default") if doc is not None else None
        found = default.get("system_key") if isinstance(default, dict) else None
        system_id = found if isinstance(found, str) and found else None
        self._system_id = _Read(system_id, self._clock())
        return system_id

    async def _read_key(self, kid: str, previous: _Read | None) -> _Read:
        kept = previous.value if previous is not None else None
        try:
            self.reads += 1
            pem = await self._couch.attachment(AUTH_DB, kid, KEY_ATTACHMENT)
        except CouchError as exc:
            log.warning("kazoo token key not read; keeping the last", kid=kid, error=str(exc))
            return _Read(kept, self._clock())
        if pem is None:
            log.warning("kazoo token key not found", kid=kid, database=AUTH_DB)
            return _Read(None, self._clock())
        try:
            return _Read(tokens.public_key_from_pem(pem), self._clock())
        except ValueError as exc:
            log.warning("kazoo token key unreadable", kid=kid, error=str(exc))
            return _Read(None, self._clock())


@dataclass(frozen=True, slots=True)
class KazooTokens:
    """Checks Kazoo-issued tokens with the keys of ``source``."""

    source: KeySource

    async def check(self, token: str) -> tokens.KazooClaims | tokens.TokenFailure | None:
        """The verified claims, why the token fails, or None when it is not shaped like a
        Kazoo token at all (another verifier's business)."""
        kid = tokens.kazoo_key_id(token)
        if kid is None:
            return None
        checked = tokens.verify(token, await self.source.key(kid))
        if isinstance(checked, tokens.TokenFailure):
            # debug: a hostile caller can make as many of these as it likes
            log.debug("kazoo token refused", kid=kid, reason=checked.reason)
        return checked


@asynccontextmanager
async def open_kazoo_tokens(settings: Settings) -> AsyncIterator[KazooTokens | None]:
    """The verifier the settings ask for: the PEM file's key, else CouchDB's system key, else
    None (standalone: Kazoo tokens are not accepted)."""
    if settings.kazoo_auth_public_key_file:
        yield KazooTokens(FileKey.load(settings.kazoo_auth_public_key_file))
    elif settings.kazoo_couch_url:
        async with Couch.open(settings.kazoo_couch_url, timeout_s=10) as couch:
            yield KazooTokens(CouchKeys(couch, refresh_s=settings.kazoo_auth_key_refresh_s))
    else:
        yield None
