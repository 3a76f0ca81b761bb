"""Crossbar's response envelope and error shapes (Kazoo ``api_util:create_resp_envelope``,
``cb_context:add_system_error``, ``crossbar_util:response*``).

Handlers return a :class:`Reply` value; a request that Crossbar refuses is a :class:`Refusal`
(aiohttp's own idiom of a response raised from deep in a handler), rendered in the same
envelope. ``Content-Type`` is exactly ``application/json``: the pqc suite compares it byte for
byte, so bodies are bytes, never ``text=``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import orjson
from aiohttp import web

JSON = "application/json"

CORS_HEADERS: Mapping[str, str] = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS, HEAD, PATCH",
    "Access-Control-Allow-Headers": (
        "Content-Type, Depth, User-Agent, X-Http-Method-Override, X-File-Size, "
        "X-Requested-With, If-Modified-Since, X-File-Name, Cache-Control, X-Auth-Token, "
        "X-Request-ID, If-Match, Authorization"
    ),
    "Access-Control-Expose-Headers": (
        "Content-Type, X-Auth-Token, X-Request-ID, Location, Etag, ETag"
    ),
    "Access-Control-Max-Age": "86400",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Paging:
    """The paging keys of a view-backed listing (absent with ``paginate=false``)."""

    start_key: str | None = None
    next_start_key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """A successful answer: ``data`` plus what the envelope and headers need."""

    data: Any
    status: int = 200
    revision: str | None = None
    paging: Paging | None = None
    #: listings report ``page_size`` (the number of items returned)
    page_size: bool = False
    location: str | None = None
    #: a token issued by this request (``api_auth``) goes into ``auth_token``
    auth_token: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class Refusal(Exception):
    """Crossbar refuses the request: ``status``, Crossbar's ``message`` and error ``data``."""

    def __init__(self, status: int, message: str, data: Any) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.data = data


def validation_error(errors: Mapping[str, Any]) -> Refusal:
    """400 ``validation error`` with Kazoo's flat dotted keys."""
    return Refusal(400, "validation error", dict(errors))


def bad_identifier(cause: str) -> Refusal:
    """404 for an id that does not name a document of this account."""
    return Refusal(404, "bad_identifier", {"cause": cause, "message": "bad identifier"})


def not_found() -> Refusal:
    return Refusal(404, "not_found", {"message": "not found"})


def invalid_method() -> Refusal:
    return Refusal(405, "invalid_method", {"message": "method not allowed"})


def invalid_credentials() -> Refusal:
    return Refusal(401, "invalid_credentials", {"message": "invalid credentials"})


def forbidden() -> Refusal:
    return Refusal(403, "forbidden", {"message": "forbidden"})


def node_hash(node: str) -> str:
    """Kazoo reports ``base64url(md5(node()))`` rather than the node name itself."""
    digest = hashlib.md5(node.encode(), usedforsecurity=False).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def list_revision(data: Any) -> str:
    """Kazoo's revision of a listing: the md5 of its JSON body."""
    return hashlib.md5(orjson.dumps(data), usedforsecurity=False).hexdigest()


def iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


#: what one request costs (Crossbar's ``token_costs``, 1 unless configured otherwise)
TOKEN_COST = 1
#: ``tokens`` of a caller without a bucket (rate limiting off, or answered before the bucket
#: was consulted): Kazoo's ``kz_buckets:tokens_remaining`` reports such a caller as a full
#: bucket of ``max_bucket_tokens`` (100)
UNMETERED: Mapping[str, int] = MappingProxyType({"consumed": TOKEN_COST, "remaining": 100})


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvelopeContext:
    """The request facts every envelope repeats."""

    request_id: str
    node: str
    auth_token: str | None = None
    version: str | None = None
    #: ``{consumed, remaining}``, in every answer as in Crossbar's ``create_resp_envelope``
    tokens: Mapping[str, int] = field(default_factory=lambda: UNMETERED)


#: the envelope facts known so far in a request; an answer given at any step repeats them
ENVELOPE = web.RequestKey("envelope", EnvelopeContext)


def too_many_requests() -> Refusal:
    return Refusal(429, "too_many_requests", {"message": "too many requests"})


def _common(ctx: EnvelopeContext, status: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "node": ctx.node,
        "request_id": ctx.request_id,
        "status": status,
        "timestamp": iso_now(),
    }
    if ctx.auth_token is not None:
        body["auth_token"] = ctx.auth_token
    if ctx.version is not None:
        body["version"] = ctx.version
    body["tokens"] = dict(ctx.tokens)
    return body


def json_response(status: int, body: Any, headers: Mapping[str, str]) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(body), content_type=JSON, headers=dict(headers)
    )


def render_reply(reply: Reply, ctx: EnvelopeContext, *, etag: bool) -> web.Response:
    """A success envelope (Kazoo ``create_resp_envelope``)."""
    body = _common(ctx, "success")
    body["data"] = reply.data
    if reply.auth_token is not None:
        body["auth_token"] = reply.auth_token
    if reply.revision is not None:
        body["revision"] = reply.revision
    if reply.page_size and isinstance(reply.data, list):
        body["page_size"] = len(reply.data)
    if reply.paging is not None:
        if reply.paging.start_key is not None:
            body["start_key"] = reply.paging.start_key
        if reply.paging.next_start_key is not None:
            body["next_start_key"] = reply.paging.next_start_key
    headers = {"X-Request-ID": ctx.request_id, **reply.headers}
    if reply.location is not None:
        headers["Location"] = reply.location
    if etag and reply.revision is not None:
        headers["ETag"] = f'"{reply.revision}"'
    return json_response(reply.status, body, headers)


def render_refusal(refusal: Refusal, ctx: EnvelopeContext) -> web.Response:
    """An error envelope: ``error`` is the status code as a string; never a revision."""
    body = _common(ctx, "error")
    body["data"] = refusal.data
    body["error"] = str(refusal.status)
    body["message"] = refusal.message
    return json_response(refusal.status, body, {"X-Request-ID": ctx.request_id})
