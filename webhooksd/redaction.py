"""The one rule for what is a secret, applied to hook documents as the API shows them,
attempt records and logs.

A secret is: the value of a header whose name looks like a credential (``X-Api-Key``,
``Authorization``…) or whose value does (``Bearer …``), the password of a URL's userinfo, and
the value of a query parameter whose name looks like a credential (``?token=``,
``&api_key=``, ``signature``…). Each is replaced by :data:`REDACTED`. A document a client
sends back with a redacted value unchanged keeps the stored value (:func:`restore_url`,
:func:`restore_headers`), so showing a masked document never makes an edit lose data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

REDACTED = "<redacted>"

#: searched in the lower-cased name: a case-sensitive search is five times faster than ``re.I``,
#: cheap enough that names need no cache
_SECRET_NAME = re.compile(
    r"auth|token|secret|key|passw|pwd|signature|sig$|cookie|credential|session|jwt"
)
#: values that are credentials whatever the header is called (``X-Custom: Bearer …``)
_SECRET_VALUE = re.compile(r"^\s*(bearer|basic|digest|token|negotiate|hmac|aws4-)\b", re.I)
#: scheme://[userinfo@]rest — split by hand: urlsplit would re-encode or refuse what a
#: hostile URL holds, and a redacted URL must otherwise be the URL as written
_USERINFO = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/?#]*)@")


def _judged(name: str) -> bool:
    return _SECRET_NAME.search(name.lower()) is not None


#: the verdicts on the header names every attempt carries, worked out once (a constant, not a
#: cache: what a tenant names is still judged on each call)
_DAEMON_HEADERS = {
    name: _judged(name)
    for name in (
        "X-Hook-ID",
        "X-Account-ID",
        "Content-Type",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "User-Agent",
    )
}


def is_secret_name(name: str) -> bool:
    """A header, query parameter or log key whose name looks like a credential."""
    known = _DAEMON_HEADERS.get(name)
    return _judged(name) if known is None else known


def is_secret_header(name: str, value: str) -> bool:
    return is_secret_name(name) or _SECRET_VALUE.match(value) is not None


def redact_url(url: str) -> str:
    """``url`` with its userinfo password and secret-looking query values redacted."""
    redacted = url
    info = _USERINFO.match(url)
    if info is not None and ":" in info["info"]:
        user = info["info"].split(":", 1)[0]
        redacted = f"{info['head']}{user}:{REDACTED}@{url[info.end() :]}"
    query_at = redacted.find("?")
    if query_at < 0:
        return redacted
    fragment_at = redacted.find("#", query_at)
    end = len(redacted) if fragment_at < 0 else fragment_at
    pairs = []
    for pair in redacted[query_at + 1 : end].split("&"):
        name, equals, _ = pair.partition("=")
        secret = equals and is_secret_name(unquote(name))
        pairs.append(f"{name}={REDACTED}" if secret else pair)
    return f"{redacted[: query_at + 1]}{'&'.join(pairs)}{redacted[end:]}"


#: the daemon's header names lower-cased, worked out once as their verdicts are
_DAEMON_LOWER = {name: name.lower() for name in _DAEMON_HEADERS}


def redact_headers(headers: Mapping[str, Any], *, lower: bool = True) -> dict[str, Any]:
    """Credential-looking values redacted; names lower-cased (attempt records, as Kazoo
    records them) unless ``lower`` is false (a hook document keeps them as written)."""
    redacted: dict[str, Any] = {}
    # is_secret_header's rule, spelled out: every attempt record redacts its request's
    # headers, and two calls per header were half of what doing so cost
    for name, value in headers.items():
        if isinstance(value, str):
            known = _DAEMON_HEADERS.get(name)
            secret = (_judged(name) if known is None else known) or (
                _SECRET_VALUE.match(value) is not None
            )
        else:
            secret = False
        key = (_DAEMON_LOWER.get(name) or name.lower()) if lower else name
        redacted[key] = REDACTED if secret else value
    return redacted


def restore_url(incoming: Any, stored: Any) -> Any:
    """The stored URL when ``incoming`` is exactly what the API showed of it."""
    if isinstance(incoming, str) and isinstance(stored, str) and incoming == redact_url(stored):
        return stored
    return incoming


def restore_headers(incoming: Any, stored: Any) -> Any:
    """Each header sent back as :data:`REDACTED` takes its stored value."""
    if not isinstance(incoming, Mapping) or not isinstance(stored, Mapping):
        return incoming
    return {
        name: stored[name] if value == REDACTED and name in stored else value
        for name, value in incoming.items()
    }


def redact_log_event(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: every URL-looking string value redacted (a hook's ``uri`` is
    logged on delivery failures). Keys are not judged by name here: ``routing_key`` and the
    like are not secrets, and no code logs a credential under its own name."""
    for key, value in event.items():
        if isinstance(value, str) and "://" in value:
            event[key] = redact_url(value)
    return event
