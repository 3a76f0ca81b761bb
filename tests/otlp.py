"""A real OTLP/HTTP trace collector on loopback: an aiohttp server that accepts
``POST /v1/traces`` (protobuf, as the daemon's exporter sends it), decodes each request with
the OpenTelemetry protocol's own messages and keeps the spans; and a blackhole, a port that
accepts connections and never answers (a collector that hangs)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.loopback import serving

PROTOBUF = "application/x-protobuf"


@dataclass(frozen=True, slots=True)
class GotSpan:
    """One span as the collector decoded it (ids as lowercase hex, "" for no parent)."""

    name: str
    trace_id: str
    span_id: str
    parent_id: str
    kind: int
    attributes: dict[str, Any]
    #: (trace id, span id, attributes) of each link
    links: list[tuple[str, str, dict[str, Any]]]
    status_code: int
    status_message: str
    resource: dict[str, Any]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def _attributes(items: Any) -> dict[str, Any]:
    return {item.key: _value(item.value) for item in items}


@dataclass
class Collector:
    url: str = ""
    spans: list[GotSpan] = field(default_factory=list)
    requests: int = 0
    #: every export request's headers (the daemon's otlp_headers arrive here)
    headers: list[dict[str, str]] = field(default_factory=list)

    def trace_of(self, **attributes: Any) -> list[GotSpan]:
        """Every span of the trace whose some span has these attributes ([] if none yet)."""
        for span in self.spans:
            if all(span.attributes.get(k) == v for k, v in attributes.items()):
                return [s for s in self.spans if s.trace_id == span.trace_id]
        return []

    def decode(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        GotSpan(
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            kind=span.kind,
                            attributes=_attributes(span.attributes),
                            links=[
                                (
                                    link.trace_id.hex(),
                                    link.span_id.hex(),
                                    _attributes(link.attributes),
                                )
                                for link in span.links
                            ],
                            status_code=span.status.code,
                            status_message=span.status.message,
                            resource=resource,
                        )
                    )


@asynccontextmanager
async def collector() -> AsyncIterator[Collector]:
    """An OTLP/HTTP collector on 127.0.0.1; its ``url`` is the traces URL."""
    state = Collector()

    async def traces(request: web.Request) -> web.Response:
        assert request.content_type == PROTOBUF, request.content_type
        state.requests += 1
        state.headers.append(dict(request.headers))
        state.decode(await request.read())
        reply = ExportTraceServiceResponse().SerializeToString()
        return web.Response(body=reply, content_type=PROTOBUF)

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    async with serving(app) as url:
        state.url = f"{url}/v1/traces"
        yield state


@asynccontextmanager
async def blackhole() -> AsyncIterator[str]:
    """A traces URL whose server accepts every connection and never sends a byte."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1/traces"
    finally:
        server.close()
        for writer in held:
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()
        await server.wait_closed()
