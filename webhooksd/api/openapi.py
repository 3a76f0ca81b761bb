"""The API as an OpenAPI 3 document, built from the route table (no Kazoo original: Kazoo
documents Crossbar in Markdown only)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import webhooksd

from .routes import Endpoint, Route
from .validation import base_schema
from .webitel import WebitelRoute

_PARAM = re.compile(r"{(\w+)}")
_PARAM_TEXT = {
    "account_id": "32-hex account id",
    "hook_id": "webhook id",
    "attempt_id": "attempt id",
    "event_id": "an event's 10-hex event_id, as its attempts carry it",
    "sample_id": "sample set name, e.g. webhooks_channel_create",
}
_LISTING_PARAMS = (
    ("page_size", "integer", "items per page (default 50)"),
    ("start_key", "string", "opaque key from a previous page's next_start_key"),
    ("paginate", "boolean", "false returns everything without paging keys"),
    ("ascending", "boolean", "true lists oldest/lowest first (default is descending)"),
    ("created_from", "integer", "Gregorian seconds (attempts: start of the window)"),
    ("created_to", "integer", "Gregorian seconds (attempts: end of the window)"),
)
_ERRORS = {
    "400": "validation error (Crossbar's flat dotted keys)",
    "401": "invalid_credentials",
    "403": "forbidden",
    "404": "not_found / bad_identifier",
    "405": "invalid_method",
    "429": "too_many_requests",
}


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "data": data,
            "status": {"type": "string", "enum": ["success", "error"]},
            "request_id": {"type": "string"},
            "node": {"type": "string"},
            "timestamp": {"type": "string", "format": "date-time"},
            "auth_token": {"type": "string"},
            "version": {"type": "string"},
            "revision": {"type": "string"},
            "page_size": {"type": "integer"},
            "start_key": {"type": "string"},
            "next_start_key": {"type": "string"},
            "error": {"type": "string"},
            "message": {"type": "string"},
        },
        "required": ["data", "status", "request_id"],
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _parameters(route: Route, method: str) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": _PARAM_TEXT.get(name, name),
        }
        for name in _PARAM.findall(route.path)
    ]
    if method == "GET":
        params += [
            {"name": n, "in": "query", "required": False, "schema": {"type": t}, "description": d}
            for n, t, d in _LISTING_PARAMS
        ]
        # the route's own query parameters (the request log's search)
        params += [
            {
                "name": n,
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": d,
            }
            for n, d in route.params.items()
        ]
    return params


def _operation(route: Route, method: str, endpoint: Endpoint) -> dict[str, Any]:
    full = f"/v2{route.path}"
    data_schema: dict[str, Any] = (
        {"$ref": "#/components/schemas/webhook"}
        # a hook document goes to the hook paths only (``…/test`` takes ``data.payload``)
        if route.tag == "webhooks"
        and endpoint.body
        and method in ("PUT", "POST")
        and route.path.endswith(("/webhooks", "{hook_id}"))
        else {}
    )
    operation: dict[str, Any] = {
        "operationId": f"{method.lower()}_{re.sub(r'[^a-z0-9]+', '_', full.lower()).strip('_')}",
        "summary": endpoint.summary,
        "tags": [route.tag],
        "parameters": _parameters(route, method),
        "responses": {
            str(endpoint.status): {"description": "success", "content": _json(_envelope({}))},
            **{
                code: {"description": text, "content": _json(_envelope({}))}
                for code, text in _ERRORS.items()
            },
        },
    }
    if endpoint.access != "public":
        operation["security"] = [{"authToken": []}, {"bearer": []}]
    if endpoint.body:
        operation["requestBody"] = {
            "required": False,
            "content": _json({"type": "object", "properties": {"data": data_schema}}),
        }
    return operation


def _plain(summary: str, content_type: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "tags": ["operations"],
            "responses": {
                "200": {"description": "success", "content": {content_type: {"schema": {}}}}
            },
        }
    }


_WEBITEL_ERRORS = {
    "400": "Bad request (info says why; validation adds errors)",
    "401": "Invalid token / Token Expired",
    "404": "Domain not found",
    "429": "Too many requests",
}


def _webitel_operation(route: WebitelRoute, method: str, summary: str) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": "domain", "in": "query", "required": True, "schema": {"type": "string"}},
        *(
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PARAM.findall(route.path)
        ),
    ]
    if method == "GET" and "{" not in route.path:
        params += [
            {"name": n, "in": "query", "required": False, "schema": {"type": t}}
            for n, t in (("limit", "integer"), ("page", "integer"), ("columns", "string"))
        ]
    answer = {"type": "object", "properties": {"status": {"type": "string"}, "data": {}}}
    operation: dict[str, Any] = {
        "operationId": f"webitel_{method.lower()}_{'item' if '{' in route.path else 'hooks'}",
        "summary": summary,
        "tags": ["webitel"],
        "parameters": params,
        "security": [{"webitelToken": []}, {"webitelKey": []}],
        "responses": {
            "200": {"description": "status OK", "content": _json(answer)},
            **{code: {"description": text} for code, text in _WEBITEL_ERRORS.items()},
        },
    }
    if method in ("POST", "PUT"):
        operation["requestBody"] = {"required": True, "content": _json({"type": "object"})}
    return operation


def _webitel_paths(routes: Sequence[WebitelRoute]) -> dict[str, Any]:
    return {
        route.path: {
            method.lower(): _webitel_operation(route, method, endpoint.summary)
            for method, endpoint in route.methods.items()
        }
        for route in routes
    }


def build(routes: Sequence[Route], webitel: Sequence[WebitelRoute] = ()) -> dict[str, Any]:
    """The document for the Crossbar routes and Webitel's ``/api/v2/hooks`` routes."""
    paths: dict[str, Any] = {}
    for route in routes:
        paths[f"/v2{route.path}"] = {
            method.lower(): _operation(route, method, endpoint)
            for method, endpoint in route.methods.items()
        }
    paths["/v2/openapi.json"] = _plain("This document", "application/json")
    paths["/healthz"] = _plain("Liveness: 200 while the process runs", "application/json")
    paths["/readyz"] = _plain(
        "Readiness: 200 when every check passes, else 503", "application/json"
    )
    paths["/metrics"] = _plain("Prometheus metrics", "text/plain")
    paths.update(_webitel_paths(webitel))
    webhook = {k: v for k, v in base_schema().items() if not k.startswith(("$", "_"))}
    return {
        # 3.1, whose Schema Object is JSON Schema: Kazoo's webhook schema goes in as it is (a
        # list of types, its own keywords such as support_level), which 3.0 does not allow
        "openapi": "3.1.0",
        "info": {
            "title": "webhooksd (Kazoo Crossbar-compatible webhooks API)",
            "version": webhooksd.__version__,
        },
        "paths": paths,
        "components": {
            "schemas": {"webhook": webhook},
            "securitySchemes": {
                "authToken": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
                "bearer": {"type": "http", "scheme": "bearer"},
                "webitelToken": {"type": "apiKey", "in": "header", "name": "X-Access-Token"},
                "webitelKey": {"type": "apiKey", "in": "header", "name": "X-Key"},
            },
        },
    }
