"""The request as Crossbar sees it (Kazoo ``api_util:get_req_data``, ``cb_context``).

The body is an envelope ``{"data": …, "auth_token"?, "verb"?}`` whose top-level keys are
normalised; ``pvt_*`` and ``_*`` keys of ``data`` are dropped; a parameter is looked up in
``data``, then the query string, then the envelope.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import hdrs, web

from webhooksd.records import Account

from .auth import Identity
from .deps import DEPS, ApiDeps
from .envelope import Refusal

#: a larger body is refused with 413 (Crossbar's own limit is in the same range)
MAX_BODY_BYTES = 1024 * 1024
#: how deep ``data`` may nest (objects and lists): a hook or account needs a handful of
#: levels; hundreds made validation recurse into a 500. orjson itself stops at 1024.
MAX_DEPTH = 32

_JSON_TYPES = ("application/json", "application/x-json")
_FORM_TYPE = "application/x-www-form-urlencoded"
_MULTIPART = ("multipart/form-data", "multipart/mixed")
_CSV_TYPES = ("text/csv", "text/comma-separated-values")
_TUNNELLED = ("PUT", "DELETE", "PATCH")


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """One Crossbar call, built by the middleware once the caller may make it (Kazoo's
    ``cb_context``); handlers read it and return a :class:`~webhooksd.api.envelope.Reply`."""

    request: web.Request
    method: str
    envelope: Mapping[str, Any]
    data: Any
    query: Mapping[str, str]
    path: Mapping[str, str] = field(default_factory=dict)
    token: str | None = None
    identity: Identity | None = None
    #: the account named in the URL, once it was found
    account: Account | None = None

    @property
    def deps(self) -> ApiDeps:
        return self.request.app[DEPS]

    def param(self, name: str) -> Any:
        """Kazoo's ``cb_context:req_value/2``: ``data``, then the query string, then the
        envelope."""
        if isinstance(self.data, Mapping) and name in self.data:
            return self.data[name]
        if name in self.query:
            return self.query[name]
        return self.envelope.get(name)

    @property
    def url_account(self) -> Account:
        """The URL's account (the middleware loads it before any account handler runs)."""
        if self.account is None:
            raise RuntimeError("account-scoped handler called without an account")
        return self.account

    @property
    def account_id(self) -> str:
        return self.url_account.id

    @property
    def data_object(self) -> dict[str, Any]:
        """``data`` as an object (an array or empty body counts as ``{}``)."""
        return dict(self.data) if isinstance(self.data, Mapping) else {}


#: where the middleware leaves the call for the endpoint
CALL = web.RequestKey("call", Call)


def request_id(request: web.Request) -> str:
    supplied = request.headers.get("X-Request-ID", "").strip()
    return supplied[:128] if supplied else secrets.token_hex(16)


def _json_error(message: str) -> Refusal:
    invalid = {"message": message, "target": "body"}
    return Refusal(400, "validation error", {"json": {"invalid": invalid}})


def _missing_data() -> Refusal:
    required = {"message": "Field is required but missing", "value": "data"}
    return Refusal(400, "validation error", {"data": {"required": required}})


def _decode_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _json_error(f"{exc.msg} around {exc.pos}") from None


def _decode_form(raw: bytes) -> Any:
    """Crossbar parses a form body, and falls back to JSON for ``curl -d '{"data":…}'``."""
    text = raw.decode("utf-8", errors="replace")
    if "=" not in text:
        return _decode_json(raw)
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return _decode_json(raw)
    return {"data": dict(pairs)}


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether objects and lists nest more than ``limit`` levels (iterative: no recursion
    on hostile input)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            children: Any = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _normalise(envelope: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).lower().replace("-", "_"): v for k, v in envelope.items()}


def public_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """Kazoo's ``kz_doc:public_fields/1``: drop ``pvt_*`` and ``_*`` keys."""
    return {k: v for k, v in data.items() if not str(k).startswith(("pvt_", "_"))}


async def read_body(request: web.Request) -> bytes:
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise Refusal(413, "request_entity_too_large", {"message": "request body too large"})
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise Refusal(
            413, "request_entity_too_large", {"message": "request body too large"}
        ) from None


def parse_envelope(request: web.Request, raw: bytes) -> tuple[dict[str, Any], Any]:
    """Decode the body into (envelope, data). Raises the Crossbar 400s; 415 for types
    Crossbar does not accept."""
    if not raw.strip():
        return {}, {}
    # a missing (or empty) Content-Type is JSON for Crossbar; aiohttp would say octet-stream
    has_type = request.headers.get(hdrs.CONTENT_TYPE, "").strip()
    ctype = request.content_type if has_type else _JSON_TYPES[0]
    if ctype in _JSON_TYPES:
        decoded = _decode_json(raw)
    elif ctype == _FORM_TYPE:
        decoded = _decode_form(raw)
    elif ctype in _MULTIPART or ctype in _CSV_TYPES:
        return {}, {}  # uploads have no meaning for webhooks; the body is ignored
    else:
        raise Refusal(
            415, "unsupported_media_type", {"message": "unsupported media type", "cause": ctype}
        )
    if not isinstance(decoded, dict):
        raise _missing_data()
    envelope = _normalise(decoded)
    data = envelope.get("data")
    if not isinstance(data, dict | list):
        raise _missing_data()
    if too_deep(data):
        depth = {"message": f"nested deeper than {MAX_DEPTH} levels", "cause": MAX_DEPTH}
        raise Refusal(400, "validation error", {"data": {"depth": depth}})
    if isinstance(data, dict):
        data = public_fields(data)
    return envelope, data


def effective_method(request: web.Request, envelope: Mapping[str, Any]) -> str:
    """Verb tunnelling: a POST carrying ``verb=PUT|DELETE|PATCH`` is handled as that verb."""
    method = request.method.upper()
    if method != "POST":
        return method
    verb = request.query.get("verb", envelope.get("verb"))
    if isinstance(verb, str) and verb.upper() in _TUNNELLED:
        return verb.upper()
    return method


def supplied_token(request: web.Request, envelope: Mapping[str, Any], data: Any) -> str | None:
    """``X-Auth-Token``, then ``auth_token`` (data, query string, envelope), then
    ``Authorization: Bearer``."""
    header = request.headers.get("X-Auth-Token", "").strip()
    if header:
        return header
    for source in (data if isinstance(data, Mapping) else {}, request.query, envelope):
        value = source.get("auth_token")
        if isinstance(value, str) and value:
            return value
    authorization = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None
