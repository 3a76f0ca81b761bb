"""The route table's types (Kazoo ``cb_webhooks:allowed_methods/0,1,2`` and friends).

Each path lists its methods; any other method is 405 and an unknown path is 404, both in
Crossbar's shape and in Crossbar's order (see :mod:`webhooksd.api.pipeline`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from .envelope import Reply
from .request import Call

#: who may call an endpoint:
#: ``public`` anyone; ``account`` a token that manages the URL's account; ``master`` the
#: master account's token; ``refused`` allowed by Crossbar's method table but never granted
#: (401 without a token, 403 with one)
Access = Literal["public", "account", "master", "refused"]

Handler = Callable[[Call], Awaitable[Reply]]


async def refuse(call: Call) -> Reply:
    """The handler of ``refused`` endpoints; the pipeline answers before calling it."""
    raise RuntimeError(f"refused endpoint reached for {call.request.path}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """One method of one path."""

    handler: Handler
    access: Access
    summary: str
    #: status of the success answer (201 for creates), for the OpenAPI document
    status: int = 200
    #: whether the request carries a ``data`` object the OpenAPI document should describe
    body: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """A path under ``/v2`` (aiohttp syntax, e.g. ``/accounts/{account_id}/webhooks``)."""

    path: str
    methods: Mapping[str, Endpoint]
    tag: str
    description: str = ""
    params: Mapping[str, str] = field(default_factory=dict)
