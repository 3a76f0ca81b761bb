"""Building the HTTP request Kazoo receivers expect (``webhooks_util:do_fire/3``).

GET puts the payload in the query string; POST and PUT send it as form data (the default)
or JSON. Every request carries ``X-Hook-ID`` (the hook) and ``X-Account-ID`` (its owner), the
hook's custom headers, and the Standard Webhooks ``webhook-id``/``webhook-timestamp`` (signed
with ``webhook-signature`` when the hook has a secret). ``webhook-id`` is the same for every
retry and redelivery of one event to one hook, so receivers can drop duplicates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from yarl import URL

from webhooksd import __version__
from webhooksd.delivery.encoding import canonical_json, json_body, querystring, with_query
from webhooksd.delivery.signing import sign
from webhooksd.records import Hook

#: headers a hook's custom headers may not replace
RESERVED = frozenset(
    {
        "x-hook-id",
        "x-account-id",
        "content-type",
        "content-length",
        "host",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
#: Kazoo's httpc sends no User-Agent; a product token names the sender to receivers' logs
#: (a hook's custom ``User-Agent`` header replaces it)
USER_AGENT = f"webhooksd/{__version__}"


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundRequest:
    method: str
    #: the hook's URI, without the GET query string (what attempt records show)
    uri: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def endpoint(self) -> str:
        """``scheme://host:port``: the unit of concurrency limits and circuit breaking."""
        return endpoint_of(self.uri)


def endpoint_of(uri: str) -> str:
    """The ``scheme://host:port`` of ``uri`` (ValueError for one too broken to name one)."""
    parts = urlsplit(uri)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port that is no number: the sender refuses such a URI
        return f"{parts.scheme}://{parts.netloc.lower()}"
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def is_reserved(name: str) -> bool:
    """Whether a custom header would replace one the daemon sets (any ``webhook-*`` too:
    the Standard Webhooks namespace is the daemon's)."""
    lowered = name.lower()
    return lowered in RESERVED or lowered.startswith("webhook-")


def webhook_id(event_key: str, hook_id: str) -> str:
    return "msg_" + hashlib.sha256(f"{event_key}:{hook_id}".encode()).hexdigest()[:32]


def build_request(
    hook: Hook,
    payload: Mapping[str, Any],
    *,
    msg_id: str,
    timestamp: int,
    body_override: bytes | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> OutboundRequest:
    headers: dict[str, str] = {}
    # most hooks have no custom headers: no merged copy made to find that out
    if hook.custom_request_headers or extra_headers:
        for name, value in {**hook.custom_request_headers, **(extra_headers or {})}.items():
            if not is_reserved(name):
                headers[name] = value
    headers["X-Hook-ID"] = hook.id
    headers["X-Account-ID"] = hook.account_id
    if hook.http_verb == "get":
        url, body = with_query(_wire_form(hook.uri), querystring(payload)), b""
    else:
        url = hook.uri
        if body_override is not None:
            body = body_override
            headers["Content-Type"] = _content_type(hook, extra_headers)
        elif hook.format == "json":
            # Kazoo 4.3 prints JSON bodies pretty; Kazoo 5 canonical, which is what a v2
            # receiver re-encodes ``data`` as to check the HMAC
            encode = canonical_json if hook.version == "v2" else json_body
            body, headers["Content-Type"] = encode(payload), JSON
        else:
            body, headers["Content-Type"] = querystring(payload).encode(), FORM
    headers["webhook-id"] = msg_id
    headers["webhook-timestamp"] = str(timestamp)
    if hook.secret:
        headers["webhook-signature"] = sign(hook.secret, msg_id, timestamp, body)
    return OutboundRequest(
        method=hook.http_verb.upper(), uri=hook.uri, url=url, headers=headers, body=body
    )


def _sendable(url: str) -> bool:
    return url.isascii() and url.isprintable() and " " not in url


def _wire_form(uri: str) -> str:
    """The URI as it goes on the wire: as given when it is printable ASCII, else as yarl
    percent-encodes it (IDNA host, non-ASCII path). Unparsable URIs stay as they are, for the
    sender to refuse."""
    if _sendable(uri):
        return uri
    try:
        return str(URL(uri))
    except ValueError:
        return uri


def wire_url(url: str) -> URL:
    """The URL the sender requests, not re-encoded: the GET query goes out exactly as
    ``json_to_querystring`` built it (an HTTP client would write ``[`` as ``%5B`` and decode
    ``%40``), like Kazoo's httpc, which sends the request line it is given."""
    if _sendable(url):
        return URL(url, encoded=True)
    return URL(url)


def _content_type(hook: Hook, extra: Mapping[str, str] | None) -> str:
    for source in (extra or {}, hook.custom_request_headers):
        for name, value in source.items():
            if name.lower() == "content-type":
                return value
    return JSON if hook.format == "json" else FORM
