"""Structured logs (structlog): JSON when not on a terminal, bound ``account_id``, ``hook_id``,
``event_id`` per task through contextvars (Kazoo's ``kz_log:put_callid``)."""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson
import structlog

from webhooksd.logonce import LogOnce
from webhooksd.redaction import redact_log_event

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


#: libraries whose lines repeat per occurrence: the OpenTelemetry SDK logs every failed export,
#: every retry of it and every span dropped from a full queue (thousands a second while a
#: collector is down)
REPEATING_LIBRARIES = ("opentelemetry",)
REPEAT_INTERVAL_S = 60.0


class OncePerInterval(logging.Filter):
    """Let a repeating library's line through once per interval per message, saying how many
    it stands for."""

    def __init__(
        self, interval_s: float = REPEAT_INTERVAL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self._once = LogOnce(interval_s, clock=clock)

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(REPEATING_LIBRARIES):
            return True
        repeats = self._once.due((record.name, record.msg))
        if repeats is None:
            return False
        if repeats:
            record.msg = f"{record.msg} (and {repeats} more like it)"
        return True


def _orjson_dumps(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def configure(level: str = "info", fmt: str = "auto") -> None:
    """Configure structlog and route the standard library's loggers (aio-pika, aiohttp)
    through the same renderer."""
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # last, so that nothing merged in above escapes it
        redact_log_event,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        # configured once per process (by the CLI): each module logger binds itself on first
        # use instead of on every call, a measurable share of the per-event cost
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(OncePerInterval())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(_LEVELS[level], logging.INFO))


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


def context_vars(*keys: str) -> tuple[contextvars.ContextVar[Any], ...]:
    """The context variables behind structlog's ``bind_contextvars`` for ``keys``, to be set
    (and reset by their tokens) directly on a hot path: ``bound_contextvars`` reads and rebinds
    the whole context each time. Its tokens name them: bound in an empty context of their own,
    so that nothing is bound where the caller runs."""
    tokens = contextvars.Context().run(
        structlog.contextvars.bind_contextvars, **dict.fromkeys(keys)
    )
    return tuple(tokens[key].var for key in keys)
