"""The request log's search: ``call_id``, ``event_id``, ``hook_id``, ``status`` and ``result``
on the attempt listings (ours; Crossbar has only its ``filter_*`` filters there, which still
apply after these).

Each value is checked and bounded before it reaches the store: a bad one is a 400
``validation error`` naming the parameter, as Crossbar names a bad field.
"""

from __future__ import annotations

import re
from typing import Any, Final

from webhooksd.delivery.attempts import MAX_CALL_ID
from webhooksd.records import AttemptResult, AttemptSearch

from .envelope import Refusal, validation_error
from .request import Call

#: event ids are 10 hex characters (Kazoo's); hook ids 32 (imported ones may differ)
MAX_ID: Final = 128
#: ids (and SIP Call-IDs, which may hold ``@``, ``<``, quotes…): printable ASCII, no spaces
_ID = re.compile(r"[!-~]+")
#: a status code (``503``) or a class of them (``5xx``)
_STATUS = re.compile(r"[1-5](?:[0-9]{2}|xx)", re.IGNORECASE)
_RESULTS: Final[dict[str, AttemptResult]] = {"success": "success", "failure": "failure"}


def _refuse(name: str, rule: str, message: str, value: Any) -> Refusal:
    return validation_error({name: {rule: {"message": message, "cause": str(value)[:64]}}})


def _text(name: str, value: Any) -> str | None:
    """A parameter as text (absent or empty: None); anything but a string is a 400."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _refuse(name, "type", "must be a string", value)
    return value.strip() or None


def checked_id(name: str, value: Any, limit: int = MAX_ID) -> str | None:
    """An id given as parameter ``name``, bounded and printable (absent: None)."""
    text = _text(name, value)
    if text is None:
        return None
    if len(text) > limit:
        raise _refuse(name, "maxLength", f"must be at most {limit} characters", text)
    if not _ID.fullmatch(text):
        raise _refuse(name, "pattern", "must be printable ASCII without spaces", text)
    return text


def hook_filter(call: Call) -> str | None:
    """``hook_id``: one hook's attempts on the account's listing."""
    return checked_id("hook_id", call.param("hook_id"))


def search_of(call: Call) -> AttemptSearch:
    """The search the query asks for (empty when it asks for none)."""
    status = _text("status", call.param("status"))
    if status is not None and not _STATUS.fullmatch(status):
        message = "must be an HTTP status code (100 to 599) or a class of them such as 5xx"
        raise _refuse("status", "pattern", message, status)
    result = _text("result", call.param("result"))
    if result is not None and result.lower() not in _RESULTS:
        raise _refuse("result", "enum", "must be success or failure", result)
    return AttemptSearch(
        event_id=checked_id("event_id", call.param("event_id")),
        call_id=checked_id("call_id", call.param("call_id"), MAX_CALL_ID),
        status=status.lower() if status is not None else None,
        result=_RESULTS[result.lower()] if result is not None else None,
    )
