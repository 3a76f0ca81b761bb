"""The ``auth`` object of a hook: what credentials a delivery carries (Webitel's hook
``auth``, ``hookClass.js`` ``toAuthRequest``), and how its secrets are masked.

Shapes::

    {"type": "basic", "username": "u", "password": "p"}
    {"type": "bearer", "token": "t"}
    {"type": "token", "url": "https://idp/token", "method": "post", "format": "form-data",
     "params": {"grant_type": "client_credentials", "client_secret": "…"},
     "headers": {"X-Tenant": "7"}, "set_headers": {"Authorization": "Bearer ${access_token}"},
     "ttl_s": 300, "cookie": false}

``token`` makes a pre-request (``params`` as the query string for GET, else as the body in
``format``) whose JSON answer fills ``set_headers`` (placeholders are paths into the answer;
the default is ``Authorization: Bearer ${access_token}``); the answer is cached per hook for
its ``expires_in`` seconds, else ``ttl_s``. Webitel's shape ``{"enabled", "url", "method",
"headers", "map", "cookie"}`` is a ``token`` auth with ``map`` as the params, JSON bodies, GET
by default and no ``set_headers``: its answer is used through ``${auth:body:<field>}`` and
``${auth:header:<name>}`` in ``custom_request_headers``; ``enabled: false`` means no auth.
Header and param values are sent as written (no placeholders).

Secrets (``password``, ``token`` and every value of ``params``, ``map`` and ``headers``) are
never shown in full: :func:`mask_auth` keeps the last four characters of long values only,
and :func:`restore_auth` puts the stored value back where a client sent the masked one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .problems import Problems
from .template import Template, compile_template

MASK = "…"
DEFAULT_TTL_S = 300
MAX_TTL_S = 86_400
_SECRET_KEYS = ("password", "token")
_SECRET_MAPS = ("params", "map", "headers")
#: the keys of an auth object that hold (or hold maps of) secrets
AUTH_SECRET_FIELDS = (*_SECRET_KEYS, *_SECRET_MAPS)
_NATIVE_KEYS = {
    "basic": {"type", "username", "password"},
    "bearer": {"type", "token"},
    "token": {
        "type",
        "url",
        "method",
        "format",
        "params",
        "headers",
        "set_headers",
        "ttl_s",
        "cookie",
    },
}
_WEBITEL_KEYS = ("enabled", "url", "method", "headers", "map", "cookie")


@dataclass(frozen=True, slots=True, kw_only=True)
class BasicAuth:
    username: str
    password: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BearerAuth:
    token: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenAuth:
    """A pre-request whose answer is cached per hook; hashable, so a changed configuration
    is a different cache entry."""

    url: str
    method: Literal["GET", "POST"]
    format: Literal["json", "form-data"]
    params: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    set_headers: tuple[tuple[str, Template], ...] = ()
    ttl_s: int = DEFAULT_TTL_S
    cookie: bool = False


AuthSpec = BasicAuth | BearerAuth | TokenAuth


def _string(raw: Mapping[str, Any], key: str, problems: Problems, *, empty: bool = False) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or (not value and not empty):
        problems.add(f"auth.{key}", "required, a non-empty string")
        return ""
    if MASK in value:
        problems.add(f"auth.{key}", "a masked value that is not the stored one; send the value")
    return value


def _strings(raw: Mapping[str, Any], key: str, problems: Problems) -> tuple[tuple[str, str], ...]:
    value = raw.get(key)
    if value is None:
        return ()
    if not isinstance(value, Mapping) or len(value) > 50:
        problems.add(f"auth.{key}", "must be an object of at most 50 strings")
        return ()
    pairs: list[tuple[str, str]] = []
    for name, item in value.items():
        if not isinstance(item, str | int | float) or isinstance(item, bool):
            problems.add(f"auth.{key}.{name}", "must be a string")
        elif isinstance(item, str) and MASK in item:
            problems.add(f"auth.{key}.{name}", "a masked value that is not the stored one")
        else:
            pairs.append((str(name), str(item)))
    return tuple(pairs)


def _set_headers(raw: Mapping[str, Any], problems: Problems) -> tuple[tuple[str, Template], ...]:
    value = raw.get("set_headers", {"Authorization": "Bearer ${access_token}"})
    if not isinstance(value, Mapping) or not value or len(value) > 20:
        problems.add("auth.set_headers", "must be an object of 1 to 20 header templates")
        return ()
    compiled: list[tuple[str, Template]] = []
    for name, text in value.items():
        try:
            compiled.append((str(name), compile_template(text, allow_auth=False)))
        except ValueError as exc:
            problems.add(f"auth.set_headers.{name}", str(exc))
    return tuple(compiled)


def _choice(value: Any, allowed: tuple[str, ...], where: str, problems: Problems) -> str:
    text = str(value).lower() if isinstance(value, str) else ""
    if text not in allowed:
        problems.add(where, f"must be one of {', '.join(allowed)}")
        return allowed[0]
    return text


def _ttl(raw: Mapping[str, Any], problems: Problems) -> int:
    value = raw.get("ttl_s", DEFAULT_TTL_S)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TTL_S:
        problems.add("auth.ttl_s", f"must be an integer from 1 to {MAX_TTL_S}")
        return DEFAULT_TTL_S
    return value


def _cookie(raw: Mapping[str, Any], problems: Problems) -> bool:
    value = raw.get("cookie", False)
    if not isinstance(value, bool):
        problems.add("auth.cookie", "must be true or false")
        return False
    return value


def _token(raw: Mapping[str, Any], problems: Problems) -> TokenAuth:
    method = _choice(raw.get("method", "post"), ("post", "get"), "auth.method", problems)
    fmt = _choice(raw.get("format", "form-data"), ("form-data", "json"), "auth.format", problems)
    return TokenAuth(
        url=_string(raw, "url", problems),
        method="GET" if method == "get" else "POST",
        format="json" if fmt == "json" else "form-data",
        params=_strings(raw, "params", problems),
        headers=_strings(raw, "headers", problems),
        set_headers=_set_headers(raw, problems),
        ttl_s=_ttl(raw, problems),
        cookie=_cookie(raw, problems),
    )


def _webitel(raw: Mapping[str, Any], problems: Problems) -> TokenAuth | None:
    if raw.get("enabled") is not True:
        return None
    method = _choice(raw.get("method") or "get", ("get", "post"), "auth.method", problems)
    return TokenAuth(
        url=_string(raw, "url", problems),
        method="GET" if method == "get" else "POST",
        format="json",
        params=_strings(raw, "map", problems),
        headers=_strings(raw, "headers", problems),
        cookie=_cookie(raw, problems),
    )


def compile_auth(raw: Any, problems: Problems) -> AuthSpec | None:
    """The auth of a hook document (None: no auth)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        problems.add("auth", "auth must be an object")
        return None
    kind = raw.get("type")
    if kind is None and any(k in raw for k in _WEBITEL_KEYS):
        return _webitel(raw, problems)
    if kind not in _NATIVE_KEYS:
        problems.add("auth.type", f"must be one of {', '.join(_NATIVE_KEYS)}")
        return None
    for key in raw:
        if key not in _NATIVE_KEYS[kind]:
            problems.add(f"auth.{key}", f"not a field of {kind} auth")
    if kind == "basic":
        return BasicAuth(
            username=_string(raw, "username", problems, empty=True),
            password=_string(raw, "password", problems, empty=True),
        )
    if kind == "bearer":
        return BearerAuth(token=_string(raw, "token", problems))
    return _token(raw, problems)


def mask_value(value: str) -> str:
    """``…`` plus the last four characters, and those only for values of 16+ characters."""
    return f"{MASK}{value[-4:]}" if len(value) >= 16 else MASK


def mask_auth(auth: Mapping[str, Any]) -> dict[str, Any]:
    """The auth object as the APIs show it: every secret masked."""
    shown = dict(auth)
    for key in _SECRET_KEYS:
        if isinstance(shown.get(key), str):
            shown[key] = mask_value(shown[key])
    for key in _SECRET_MAPS:
        inner = shown.get(key)
        if isinstance(inner, Mapping):
            shown[key] = {k: mask_value(v) if isinstance(v, str) else v for k, v in inner.items()}
    return shown


def restore_auth(incoming: Any, stored: Any) -> Any:
    """``incoming`` with every masked secret that matches the stored one put back."""
    if not isinstance(incoming, Mapping) or not isinstance(stored, Mapping):
        return incoming
    result = dict(incoming)
    for key in _SECRET_KEYS:
        result[key] = _restored(result.get(key), stored.get(key))
        if result[key] is None and key not in incoming:
            del result[key]
    for key in _SECRET_MAPS:
        inner, old = result.get(key), stored.get(key)
        if isinstance(inner, Mapping) and isinstance(old, Mapping):
            result[key] = {k: _restored(v, old.get(k)) for k, v in inner.items()}
    return result


def _restored(value: Any, stored: Any) -> Any:
    if isinstance(value, str) and isinstance(stored, str) and value == mask_value(stored):
        return stored
    return value
