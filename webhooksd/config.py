"""Settings: ``config/webhooksd.toml`` holds every default; the environment overrides.

A setting ``foo_bar`` is overridden by ``WEBHOOKSD_FOO_BAR``. A bad value raises
:class:`webhooksd.errors.ConfigError` naming the setting, and start-up stops with that line.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_type_hints

from webhooksd.errors import ConfigError

ENV_PREFIX = "WEBHOOKSD_"
DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "config" / "webhooksd.toml"
#: processes of one service (``workers``): more than a host has cores only adds switching
MAX_WORKERS = 64
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
#: what a cluster id may be: it is sent in every v1 payload and form field as it is
_CLUSTER_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Every setting of the daemon; see ``config/webhooksd.toml`` for what each means."""

    amqp_url: str = "memory://"
    store_url: str = "sqlite:///var/webhooksd.sqlite3"
    api_listen: str = "127.0.0.1:8000"
    node_name: str = ""
    allow_private_targets: bool = False
    allowed_target_networks: tuple[str, ...] = ()
    connect_timeout_ms: int = 10_000
    request_timeout_ms: int = 10_000
    endpoint_concurrency: int = 10
    endpoint_wait_ms: int = 200
    endpoint_queue: int = 100
    account_inflight: int = 20
    max_pending_retries: int = 1000
    breaker_failures: int = 5
    breaker_cooldown_ms: int = 30_000
    retry_base_delay_ms: int = 2_000
    retry_max_delay_ms: int = 300_000
    max_response_body_bytes: int = 4096
    log_successful_attempts: bool = True
    attempt_write_linger_ms: int = 5
    attempt_retention_days: int = 35
    attempt_partition_days_ahead: int = 7
    attempt_failure_count: int = 6
    attempt_failure_expiry_ms: int = 60_000
    disable_disabler: bool = False
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = ""
    smtp_timeout_ms: int = 10_000
    alert_interval_s: int = 900
    alert_attempts: int = 3
    shared_queue: str = "webhooks_shared_listener"
    retry_queue: str = "webhooks_retry"
    queue_type: str = "classic"
    prefetch: int = 100
    token_ttl_s: int = 3600
    api_account_cache_ms: int = 1000
    rate_limit_per_s: int = 0
    kazoo_couch_url: str = ""
    kazoo_auth_public_key_file: str = ""
    kazoo_auth_key_refresh_s: int = 60
    #: the ``cluster_id`` of v1 payloads (Kazoo's ``kzd_cluster:id/0``); empty: the id the
    #: store generated once
    kazoo_cluster_id: str = ""
    load_entry_points: bool = True
    reserved_ccv_keys: tuple[str, ...] = ()
    object_types: tuple[str, ...] = ()
    max_restarts: int = 5
    restart_period_s: int = 10
    drain_timeout_s: int = 20
    event_loop: str = "auto"
    workers: int = 1
    log_level: str = "info"
    log_format: str = "auto"
    otlp_endpoint: str = ""
    otlp_headers: tuple[str, ...] = ()
    trace_sample_ratio: float = 1.0
    traceparent: bool = False

    def __post_init__(self) -> None:
        _check(self)

    @property
    def api_host(self) -> str:
        return self.api_listen.rsplit(":", 1)[0].strip("[]")

    @property
    def api_port(self) -> int:
        return int(self.api_listen.rsplit(":", 1)[1])

    @property
    def queue_kind(self) -> Literal["classic", "quorum"]:
        """``queue_type``, checked in ``__post_init__``, as the bus's type."""
        return "quorum" if self.queue_type == "quorum" else "classic"

    @property
    def node(self) -> str:
        return self.node_name or f"webhooksd@{socket.gethostname()}"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def load(config_file: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the defaults file, then ``config_file`` if given, then the environment."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for path in (DEFAULTS_FILE, config_file):
        if path is not None and path.exists():
            values.update(_read_toml(path))
        elif path is not None and path != DEFAULTS_FILE:
            raise ConfigError("config", f"file {str(path)!r} does not exist")
    hints = get_type_hints(Settings)
    known = {f.name for f in fields(Settings)}
    for key in values:
        if key not in known:
            raise ConfigError(key, "unknown setting")
    for name in known:
        env_value = environ.get(ENV_PREFIX + name.upper())
        if env_value is not None:
            values[name] = _from_env(name, env_value, hints[name])
    coerced = {name: _coerce(name, value, hints[name]) for name, value in values.items()}
    return Settings(**coerced)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("config", f"cannot read {str(path)!r}: {exc}") from exc


def _from_env(name: str, raw: str, hint: Any) -> Any:
    if hint is bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(name, f"{raw!r} is not a boolean (true/false)")
    if hint is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(name, f"{raw!r} is not an integer") from None
    if hint is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(name, f"{raw!r} is not a number") from None
    if hint == tuple[str, ...]:
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    return raw


def _coerce(name: str, value: Any, hint: Any) -> Any:
    if hint is bool and isinstance(value, bool):
        return value
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is str and isinstance(value, str):
        return value
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if (
        hint == tuple[str, ...]
        and isinstance(value, list | tuple)
        and all(isinstance(item, str) for item in value)
    ):
        return tuple(value)
    expected = {bool: "a boolean", int: "an integer", str: "a string", float: "a number"}.get(
        hint, "a list of strings"
    )
    raise ConfigError(name, f"{value!r} is not {expected}")


def _check_kazoo(settings: Settings) -> None:
    """The settings of running beside a real Kazoo."""
    if settings.kazoo_couch_url and not settings.kazoo_couch_url.startswith(
        ("http://", "https://")
    ):
        # the URL carries CouchDB's password: the message must not repeat it
        raise ConfigError("kazoo_couch_url", "must be an http:// or https:// URL")
    if settings.kazoo_cluster_id and not _CLUSTER_ID.fullmatch(settings.kazoo_cluster_id):
        raise ConfigError("kazoo_cluster_id", "must be 1 to 128 letters, digits, '-' or '_'")


def _check(settings: Settings) -> None:
    if ":" not in settings.api_listen:
        raise ConfigError("api_listen", f"{settings.api_listen!r} is not host:port")
    port = settings.api_listen.rsplit(":", 1)[1]
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError("api_listen", f"{settings.api_listen!r} has no valid port")
    if not settings.amqp_url.startswith(("amqp://", "amqps://", "memory://")):
        raise ConfigError("amqp_url", f"{settings.amqp_url!r} is not amqp://… or memory://")
    if not settings.store_url.startswith(("sqlite://", "postgresql://", "postgres://")):
        raise ConfigError(
            "store_url", f"{settings.store_url!r} is not sqlite://… or postgresql://…"
        )
    _check_kazoo(settings)
    for network in settings.allowed_target_networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError("allowed_target_networks", f"{network!r} is not a CIDR") from None
    _check_numbers(settings)
    if settings.breaker_failures > 0 and (
        settings.breaker_cooldown_ms >= settings.attempt_failure_expiry_ms
    ):
        # An open breaker sends one probe per cooldown: with a cooldown as long as the failure
        # window, earlier failures expire before the next one lands and a dead endpoint's hook
        # would never be auto-disabled.
        raise ConfigError(
            "breaker_cooldown_ms",
            f"{settings.breaker_cooldown_ms} must be less than attempt_failure_expiry_ms "
            f"({settings.attempt_failure_expiry_ms}) or failing hooks are never disabled",
        )
    _check_smtp(settings)
    _check_tracing(settings)
    if settings.queue_type not in ("classic", "quorum"):
        raise ConfigError("queue_type", f"{settings.queue_type!r} is not classic/quorum")
    _check_workers(settings)
    if settings.event_loop not in ("auto", "uvloop", "asyncio"):
        raise ConfigError("event_loop", f"{settings.event_loop!r} is not auto/uvloop/asyncio")
    if settings.log_level not in ("debug", "info", "warning", "error"):
        raise ConfigError("log_level", f"{settings.log_level!r} is not debug/info/warning/error")
    if settings.log_format not in ("json", "console", "auto"):
        raise ConfigError("log_format", f"{settings.log_format!r} is not json/console/auto")


def _check_workers(settings: Settings) -> None:
    if not 1 <= settings.workers <= MAX_WORKERS:
        raise ConfigError("workers", f"{settings.workers} is not 1 to {MAX_WORKERS}")
    if settings.workers > 1 and settings.api_port + settings.workers - 1 > 65535:
        raise ConfigError("workers", "worker i listens on api_listen's port + i: past 65535")


def _check_smtp(settings: Settings) -> None:
    if settings.smtp_security not in ("starttls", "tls", "none"):
        raise ConfigError("smtp_security", f"{settings.smtp_security!r} is not starttls/tls/none")
    if settings.smtp_host and "@" not in settings.smtp_from:
        raise ConfigError("smtp_from", "an address is needed when smtp_host is set")
    if not 0 < settings.smtp_port <= 65535:
        raise ConfigError("smtp_port", f"{settings.smtp_port} is not a port")


def _check_tracing(settings: Settings) -> None:
    endpoint = settings.otlp_endpoint
    if endpoint and (not endpoint.startswith(("http://", "https://")) or "@" in endpoint):
        # credentials go in otlp_headers, which no message repeats
        raise ConfigError(
            "otlp_endpoint", "must be an http:// or https:// URL (no user info), or empty"
        )
    for header in settings.otlp_headers:
        name, eq, _ = header.partition("=")
        if not eq or not name.strip() or not name.strip().isascii():
            # the value is likely a secret: the message names the header only
            raise ConfigError("otlp_headers", f"item {name.strip()[:40]!r} is not name=value")
    if not 0.0 <= settings.trace_sample_ratio <= 1.0:
        raise ConfigError(
            "trace_sample_ratio", f"{settings.trace_sample_ratio} is not between 0 and 1"
        )
    if settings.traceparent and not endpoint:
        raise ConfigError("traceparent", "needs otlp_endpoint (the trace it names is exported)")


def _check_numbers(settings: Settings) -> None:
    positive = (
        "connect_timeout_ms",
        "request_timeout_ms",
        "endpoint_concurrency",
        "endpoint_queue",
        "max_pending_retries",
        "prefetch",
        "attempt_failure_count",
        "attempt_failure_expiry_ms",
        "token_ttl_s",
        "max_restarts",
        "restart_period_s",
        "retry_base_delay_ms",
        "kazoo_auth_key_refresh_s",
        "smtp_timeout_ms",
        "alert_interval_s",
        "alert_attempts",
    )
    for name in positive:
        if getattr(settings, name) <= 0:
            raise ConfigError(name, f"must be positive, not {getattr(settings, name)}")
    for name in (
        "api_account_cache_ms",
        "account_inflight",
        "attempt_write_linger_ms",
        "breaker_failures",
        "endpoint_wait_ms",
        "rate_limit_per_s",
    ):
        if getattr(settings, name) < 0:
            raise ConfigError(name, f"must not be negative, not {getattr(settings, name)}")
    # each day ahead is one PostgreSQL table; a year is far more than any outage needs
    if not 1 <= settings.attempt_partition_days_ahead <= 366:
        raise ConfigError(
            "attempt_partition_days_ahead",
            f"must be from 1 to 366, not {settings.attempt_partition_days_ahead}",
        )
