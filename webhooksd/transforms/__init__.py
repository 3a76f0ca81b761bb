"""Per-hook payload transforms: a filter, ``fields``/``map``, a body template, templated
headers and the auth configuration, compiled once per hook document (Webitel's hook engine,
``webitel/engine-nodejs`` ``src/services/hook/hookClass.js``; Kazoo has no equivalent).

The pipeline for one event and one hook: the dispatcher merges ``custom_data`` and
``cluster_id`` into Kazoo's payload; :meth:`HookTransforms.matches` decides whether the hook
fires; :meth:`HookTransforms.shape` applies ``fields`` then ``map``; the body is
``body_template`` filled from the shaped payload (else Kazoo's encoding of it), and
``custom_request_headers`` are filled from the shaped payload too. Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .authspec import AuthSpec, BasicAuth, BearerAuth, TokenAuth, compile_auth
from .filters import Condition, compile_filter
from .paths import Path
from .problems import Problems, TransformError
from .shape import compile_fields, compile_map, pick, rename
from .template import Mode, Template, check_json, compile_template

__all__ = [
    "AuthSpec",
    "BasicAuth",
    "BearerAuth",
    "HookTransforms",
    "TokenAuth",
    "TransformError",
    "compile_hook_transforms",
    "content_type_of",
    "mode_of",
]

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def content_type_of(doc: Mapping[str, Any]) -> str:
    """The body's content type: an explicit ``Content-Type`` custom header, else the
    ``format`` (``json`` → JSON, anything else → form-urlencoded, as Kazoo sends it)."""
    headers = doc.get("custom_request_headers")
    if isinstance(headers, Mapping):
        for name, value in headers.items():
            if str(name).lower() == "content-type" and isinstance(value, str) and value:
                return value
    return JSON if doc.get("format") == "json" else FORM


def mode_of(content_type: str) -> Mode:
    """How placeholders are escaped for a content type."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == JSON or media.endswith("+json"):
        return "json"
    if media == FORM:
        return "form"
    return "text"


@dataclass(frozen=True, slots=True, kw_only=True)
class HookTransforms:
    """A hook's transforms, compiled; an instance with nothing set changes nothing."""

    conditions: tuple[Condition, ...] = ()
    fields: tuple[Path, ...] = ()
    renames: tuple[tuple[Path, Path], ...] = ()
    body: Template | None = None
    headers: tuple[tuple[str, Template], ...] = ()
    content_type: str = FORM
    auth: AuthSpec | None = None

    def matches(self, payload: Mapping[str, Any]) -> bool:
        """Whether every filter condition holds (no conditions: always)."""
        return all(c.holds(payload) for c in self.conditions)

    def shape(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``fields`` then ``map``; a new dict, the payload is not modified."""
        return rename(pick(payload, self.fields), self.renames)

    def render_body(
        self, payload: Mapping[str, Any], content_type: str | None = None
    ) -> bytes | None:
        """The templated body for an (already shaped) payload, or None without a template."""
        if self.body is None:
            return None
        return self.body.render(payload, mode_of(content_type or self.content_type)).encode()

    def render_headers(
        self, payload: Mapping[str, Any], auth_vars: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """``custom_request_headers`` filled from the (shaped) payload and the auth answer."""
        return {name: t.render(payload, "header", auth_vars) for name, t in self.headers}

    @property
    def secret_headers(self) -> frozenset[str]:
        """Lower-cased names of headers that carry auth answers (redacted in attempts)."""
        return frozenset(name.lower() for name, t in self.headers if t.uses_auth)


def _body(doc: Mapping[str, Any], content_type: str, problems: Problems) -> Template | None:
    raw = doc.get("body_template")
    if raw is None:
        return None
    try:
        template = compile_template(raw, allow_auth=False)
    except ValueError as exc:
        problems.add("body_template", str(exc))
        return None
    if str(doc.get("http_verb", "post")).lower() == "get":
        problems.add("body_template", "a GET request has no body; use http_verb post or put")
    elif mode_of(content_type) == "json" and (why := check_json(template)) is not None:
        problems.add("body_template", why)
    return template


def _headers(doc: Mapping[str, Any], problems: Problems) -> tuple[tuple[str, Template], ...]:
    raw = doc.get("custom_request_headers")
    if not isinstance(raw, Mapping):
        return ()
    compiled: list[tuple[str, Template]] = []
    for name, text in raw.items():
        if isinstance(text, str) and ("\r" in text or "\n" in text):
            problems.add(f"custom_request_headers.{name}", "a header value may not span lines")
            continue
        try:
            compiled.append((str(name), compile_template(text, allow_auth=True)))
        except ValueError as exc:
            problems.add(f"custom_request_headers.{name}", str(exc))
    return tuple(compiled)


def compile_hook_transforms(doc: Mapping[str, Any]) -> HookTransforms:
    """Compile the transforms of a hook document; TransformError lists every problem."""
    problems = Problems()
    content_type = content_type_of(doc)
    transforms = HookTransforms(
        conditions=compile_filter(doc.get("filter"), problems),
        fields=compile_fields(doc.get("fields"), problems),
        renames=compile_map(doc.get("map"), problems),
        body=_body(doc, content_type, problems),
        headers=_headers(doc, problems),
        content_type=content_type,
        auth=compile_auth(doc.get("auth"), problems),
    )
    if problems:
        raise problems.error()
    return transforms
