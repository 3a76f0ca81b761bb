"""Validating a webhook document (Kazoo ``cb_webhooks:validate_request``, ``kz_json_schema``,
``kz_json_schema_extensions`` for ``webhooks.uri``, ``cb_webhooks:check_modifiers``).

The schema is Kazoo's ``webhooks.json`` plus our documented additions. Like Crossbar, numbers
and booleans sent as strings are coerced, defaults are applied, every error is reported at
once with flat dotted keys, and the hook-type modifiers are checked only once the schema
passes. The transforms (``filter``, ``fields``, ``map``, ``body_template``, templated
``custom_request_headers``, ``auth``) are compiled here too, so a bad placeholder or regular
expression is a 400 when the hook is saved (``"filter.0.regex": {"invalid": …}``).
"""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# jsonschema ships no type information and types-jsonschema is not installed
from jsonschema import Draft4Validator, ValidationError

from webhooksd.records import ALL_HOOK
from webhooksd.redaction import REDACTED
from webhooksd.transforms import TransformError, compile_hook_transforms

from .envelope import validation_error

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "data" / "webhooks.schema.json"

#: hook modules Crossbar leaves out of the ``hook`` enum (``cb_webhooks:init/0``)
HIDDEN_HOOK_IDS = frozenset({"callflow", "inbound_fax", "outbound_fax", "skel"})
#: notification types only the master account sees in error targets and the catalogue
SUPER_ONLY_NOTIFICATIONS = ("system_alert", "webhook_disabled")
#: Kazoo's ``kazoo_web`` client blacklists
BLACKLISTED_HOSTS = frozenset({"localhost"})
BLACKLISTED_NETWORKS = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("0.0.0.0/32"))

_INTEGER = re.compile(r"^-?\d+$")
Errors = dict[str, dict[str, Any]]


@cache
def base_schema() -> Mapping[str, Any]:
    """The packaged schema, read once per process (it is immutable data, not state)."""
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


def hook_enum(module_ids: list[str]) -> list[str]:
    """``sorted(["all"] + ids)`` minus the hidden modules, as Crossbar rewrites it."""
    return sorted({ALL_HOOK, *(i for i in module_ids if i not in HIDDEN_HOOK_IDS)})


def _coerce(doc: dict[str, Any], properties: Mapping[str, Any]) -> None:
    """Crossbar re-validates strings as integers/numbers/booleans when they convert."""
    for name, spec in properties.items():
        value, kind = doc.get(name), spec.get("type")
        if not isinstance(value, str):
            continue
        if kind == "integer" and _INTEGER.match(value.strip()):
            doc[name] = int(value.strip())
        elif kind == "number":
            try:
                doc[name] = float(value)
            except ValueError:
                continue
        elif kind == "boolean" and value.lower() in ("true", "false"):
            doc[name] = value.lower() == "true"


def _defaults(doc: dict[str, Any], properties: Mapping[str, Any]) -> None:
    for name, spec in properties.items():
        if name not in doc and "default" in spec:
            doc[name] = copy.deepcopy(spec["default"])


def _type_names(expected: Any) -> str:
    return expected if isinstance(expected, str) else ", ".join(str(t) for t in expected)


def _message(code: str, target: Any) -> str | None:
    """Kazoo's wording for the schema errors it names; None for the others."""
    if code == "enum":
        return "Value not found in enumerated list of values"
    if code == "type":
        return f"Value did not match type(s): {_type_names(target)}"
    templates = {
        "minimum": "Value must be at least {}",
        "maximum": "Value must be at most {}",
        "minLength": "String must be at least {} characters",
        "maxLength": "String must not be more than {} characters",
        "maxProperties": "Object must not have more than {} properties",
        "maxItems": "List must not have more than {} items",
    }
    return templates[code].format(target) if code in templates else None


def _entry(err: ValidationError, *, hide_value: bool) -> tuple[str, dict[str, Any]]:
    code, target = str(err.validator), err.validator_value
    message = _message(code, target)
    if message is None:
        return code, {"message": err.message}
    entry: dict[str, Any] = {"message": message, "target": target}
    if not hide_value:
        if code in ("minLength", "maxLength"):  # kz_json_schema names the string twice
            entry["cause"] = err.instance
        entry["value"] = err.instance
    return code, entry


#: schema errors on these keys never echo the value sent (``auth.*`` neither)
_SECRET_KEYS = frozenset({"secret", "security_settings", "security_settings.sha256_key"})


def _schema_errors(doc: Any, schema: Mapping[str, Any]) -> Errors:
    errors: Errors = {}
    if isinstance(doc, Mapping):
        for name in schema.get("required", ()):
            if name not in doc:
                required = {"message": "Field is required but missing", "value": name}
                errors.setdefault(name, {})["required"] = required
    relaxed = {k: v for k, v in schema.items() if k != "required"}
    for err in Draft4Validator(relaxed).iter_errors(doc):
        key = ".".join(str(p) for p in err.absolute_path) or "data"
        code, entry = _entry(err, hide_value=key in _SECRET_KEYS or key.startswith("auth"))
        errors.setdefault(key, {})[code] = entry
    return errors


#: what a host may hold: a name (IDN letters too) or an IP literal; no whitespace, control
#: characters or URL delimiters (``http://a b.example`` was stored, then failed every send)
_HOST = re.compile(r"[^\s\x00-\x1f\x7f/\\?#@<>\"{}|^`\[\]%]+|\[[0-9A-Fa-f:.]+\]")
#: RFC 9110's token: what a header name may be (no CR/LF, no spaces, no separators)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


#: a shown (redacted) value sent back changed around it, so the stored one cannot be kept
_RESHOWN = f"holds {REDACTED} (as shown): enter the secret again"


_MASKED_KEY = "holds a masked key that is not this hook's: enter the key again"


def normalise_scheme(uri: Any) -> Any:
    """``HTTP://…`` is the same URL as ``http://…`` (schemes are case-insensitive)."""
    if not isinstance(uri, str):
        return uri
    scheme, sep, rest = uri.partition("://")
    return f"{scheme.lower()}{sep}{rest}" if sep and scheme.lower() in ("http", "https") else uri


def uri_allowed(uri: str, *, allow_private: bool) -> bool:
    """Kazoo's ``webhooks.uri`` check: scheme http/https (lower-cased before), a well-formed
    host and port, host not blacklisted. ``allow_private`` (tests, private deployments)
    lifts the loopback blacklist."""
    scheme, sep, _ = uri.partition("://")
    if not sep or scheme not in ("http", "https"):
        return False
    try:
        parts = urlsplit(uri)
        host, _port = parts.hostname, parts.port  # .port: ValueError above 65535
    except ValueError:
        return False
    written_host = parts.netloc.rpartition("@")[2]
    if written_host.startswith("["):
        written_host = written_host[: written_host.find("]") + 1]
    else:
        written_host = written_host.partition(":")[0]
    if not host or _HOST.fullmatch(written_host) is None:
        return False
    if allow_private:
        return True
    if host.lower() in BLACKLISTED_HOSTS:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    return not any(address in network for network in BLACKLISTED_NETWORKS)


def secret_allowed(secret: str) -> bool:
    """A Standard Webhooks secret (``whsec_`` + base64 of 24-64 bytes) or any other string
    of at least 24 characters (the schema checks the length)."""
    if "…" in secret:  # a masked value that does not match the stored secret
        return False
    if not secret.startswith("whsec_"):
        return True
    try:
        raw = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        return False
    return 24 <= len(raw) <= 64


def _extension_errors(doc: Any, *, allow_private: bool) -> Errors:
    errors: Errors = {}
    if not isinstance(doc, Mapping):
        return errors
    headers = doc.get("custom_request_headers")
    for name, value in headers.items() if isinstance(headers, Mapping) else ():
        if _HEADER_NAME.fullmatch(str(name)) is None:
            message = "a header name is letters, digits and !#$%&'*+.^_`|~- only"
            errors[f"custom_request_headers.{name}"] = {"invalid": {"message": message}}
        elif isinstance(value, str) and REDACTED in value:
            errors[f"custom_request_headers.{name}"] = {"invalid": {"message": _RESHOWN}}
    if isinstance(doc.get("uri"), str) and REDACTED in doc["uri"]:
        # what the API showed, edited elsewhere: the stored secret cannot be restored
        errors["uri"] = {"invalid": {"message": _RESHOWN}}
    uri, secret = doc.get("uri"), doc.get("secret")
    if isinstance(uri, str) and not uri_allowed(uri, allow_private=allow_private):
        errors["uri"] = {"error": {"message": "invalid client URL", "value": uri}}
    if isinstance(secret, str) and len(secret) >= 24 and not secret_allowed(secret):
        message = "secret must be whsec_<base64 of 24 to 64 bytes> or 24+ characters"
        errors["secret"] = {"error": {"message": message}}
    settings = doc.get("security_settings")
    sha256_key = settings.get("sha256_key") if isinstance(settings, Mapping) else None
    if isinstance(sha256_key, str) and "…" in sha256_key:
        # a masked key that is not the stored one's mask: the key cannot be restored
        errors["security_settings.sha256_key"] = {"invalid": {"message": _MASKED_KEY}}
    auth = doc.get("auth")
    auth_url = auth.get("url") if isinstance(auth, Mapping) else None
    if (
        isinstance(auth_url, str)
        and auth_url
        and not uri_allowed(auth_url, allow_private=allow_private)
    ):
        errors["auth.url"] = {"error": {"message": "invalid client URL", "value": auth_url}}
    return errors


def _transform_errors(doc: Any) -> Errors:
    """Every problem of the hook's transforms, as ``{"<dotted key>": {"invalid": …}}``."""
    if not isinstance(doc, Mapping):
        return {}
    try:
        compile_hook_transforms(doc)
    except TransformError as exc:
        errors: Errors = {}
        for key, message in exc.problems:
            errors.setdefault(key, {}).setdefault("invalid", {"message": message})
        return errors
    return {}


def _modifier_errors(doc: Mapping[str, Any], meta: Mapping[str, Any], *, is_master: bool) -> Errors:
    """Every modifier of the hook type is required in ``custom_data`` with an allowed value."""
    errors: Errors = {}
    custom = doc.get("custom_data") or {}
    for name, spec in (meta.get("modifiers") or {}).items():
        key = f"custom_data.{name}"
        if name not in custom:
            errors[key] = {"required": {"message": "missing required modifier"}}
            continue
        items = spec.get("items") if isinstance(spec, Mapping) else None
        allowed = list(items) if isinstance(items, Mapping | list) else []
        value = custom[name]
        if value == ALL_HOOK or value in allowed:
            continue
        target = [i for i in allowed if is_master or i not in SUPER_ONLY_NOTIFICATIONS]
        enum = {
            "message": "value not found in enumerated list of values",
            "cause": value,
            "target": target,
        }
        errors[key] = {"enum": enum}
    return errors


def validate_hook(
    data: Any,
    *,
    module_meta: Mapping[str, Mapping[str, Any]],
    allow_private: bool,
    is_master: bool,
) -> dict[str, Any]:
    """Return the document with coercions and defaults applied, or raise the 400 with every
    error found."""
    schema = copy.deepcopy(dict(base_schema()))
    properties = schema["properties"]
    properties["hook"]["enum"] = hook_enum(list(module_meta))
    doc: Any = copy.deepcopy(data)
    if isinstance(doc, dict):
        if "uri" in doc:
            doc["uri"] = normalise_scheme(doc["uri"])
        if isinstance(doc.get("auth"), dict) and "url" in doc["auth"]:
            doc["auth"]["url"] = normalise_scheme(doc["auth"]["url"])
        _coerce(doc, properties)
        _defaults(doc, properties)
    errors = _schema_errors(doc, schema)
    errors.update(_extension_errors(doc, allow_private=allow_private))
    for key, entry in _transform_errors(doc).items():
        errors.setdefault(key, {}).update(entry)
    if errors:
        raise validation_error(errors)
    hook_meta = module_meta.get(doc["hook"], {})
    errors = _modifier_errors(doc, hook_meta, is_master=is_master)
    if errors:
        raise validation_error(errors)
    return dict(doc)
