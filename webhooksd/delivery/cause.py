"""Why an attempt failed, in plain words, from the attempt record's own fields.

Kazoo's record says ``reason: "kazoo http client error"`` and hides the cause in
``client_error`` (``failed_connect: econnrefused``); this is the one place that turns the
record into a sentence a developer can act on. The API adds it to attempt items as ``cause``
and the web UI shows it, so a script and the UI say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from webhooksd.delivery.outcome import BAD_RESPONSE

#: ``failed_connect: <errno>`` codes, as the sentence that follows "the connection to HOST"
_CONNECT = {
    "econnrefused": "was refused",
    "etimedout": "timed out",
    "ehostunreach": "failed: no route to the host",
    "enetunreach": "failed: the network is unreachable",
    "econnreset": "was reset",
    "eaddrnotavail": "failed: the address is not available",
}


def _target(uri: Any) -> str:
    """``host:port`` of the attempt's URL (the port implied by the scheme when absent)."""
    try:
        parts = urlsplit(str(uri or ""))
        host, port = parts.hostname, parts.port
    except ValueError:
        return str(uri or "the server")
    if not host:
        return str(uri or "the server")
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return f"{host}:{port}"


def _seconds(doc: Mapping[str, Any]) -> str:
    ms = doc.get("duration_ms")
    if isinstance(ms, int | float) and not isinstance(ms, bool) and ms > 0:
        return f" after {ms / 1000:.0f} s" if ms >= 1000 else f" after {ms:.0f} ms"
    return ""


def _client_error_cause(error: str, doc: Mapping[str, Any]) -> str:
    target = _target(doc.get("uri"))
    kind, _, detail = error.partition(": ")
    detail = detail.strip()
    if kind == "failed_connect":
        if detail == "econnrefused":
            return f"Connection refused by {target}: nothing is listening there"
        said = _CONNECT.get(detail, f"failed ({detail})" if detail else "failed")
        return f"The connection to {target} {said}"
    if kind == "nxdomain":
        return f"DNS name not found: {urlsplit(str(doc.get('uri') or '')).hostname or target}"
    if kind == "timeout":
        return f"Timed out{_seconds(doc)} waiting for {target} to answer"
    if kind == "tls_error":
        return f"TLS error with {target}: {detail}" if detail else f"TLS error with {target}"
    if kind == "socket_closed_remotely":
        return f"{target} closed the connection without an answer"
    if kind == "ssrf_blocked":
        return (
            f"Blocked by the SSRF guard: {target} is a private, loopback or reserved address. "
            "The operator can allow it with the setting allow_private_targets, or list its "
            "network in allowed_target_networks"
        )
    if kind in ("malformed_url", "unsupported_scheme"):
        return f"The URL cannot be used: {detail or error}"
    if kind == "auth_failed":
        return f"Getting the hook's authentication token failed: {detail or error}"
    if kind == "invalid_hook":
        return f"The hook's settings cannot be applied: {detail or error}"
    return f"No response from {target}: {error}"


def _status_cause(status: int) -> str:
    if status == 410:
        return "HTTP 410 Gone: the receiver asked for the hook to be switched off"
    if 300 <= status < 400:
        return f"HTTP {status}: a redirect (redirects are not followed)"
    if status == 429:
        return "HTTP 429: the receiver is rate limiting"
    return f"HTTP {status}"


def cause(doc: Mapping[str, Any]) -> str | None:
    """The plain-words cause of a failed attempt record; None for a success."""
    if doc.get("result") == "success":
        return None
    error = doc.get("client_error")
    reason = doc.get("reason")
    if isinstance(error, str) and error:
        return _client_error_cause(error, doc)
    status = doc.get("resp_status_code") or doc.get("response_code")
    try:
        code = int(status) if status is not None else None
    except (TypeError, ValueError):
        code = None
    if code is not None:
        return _status_cause(code)
    if reason == BAD_RESPONSE:
        return "An unexpected response"
    return str(reason) if reason else "Failed"
