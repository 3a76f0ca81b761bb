"""Why a hook's templates, filter, field map or auth cannot be compiled.

No Kazoo original (Kazoo has none of these features); the rules follow Webitel's hook engine
(``webitel/engine-nodejs`` ``src/services/hook/hookClass.js``), where a bad filter silently
never matches: here every problem is reported when the hook is saved.
"""

from __future__ import annotations

from webhooksd.errors import WebhooksdError


class TransformError(WebhooksdError):
    """A hook document's ``body_template``, ``custom_request_headers``, ``filter``,
    ``fields``, ``map`` or ``auth`` is invalid.

    ``field`` is the dotted key of the first problem (``filter.0.regex``); ``problems``
    lists every problem found, in document order, as ``(field, message)``.
    """

    def __init__(
        self, field: str, message: str, problems: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.problems = problems or ((field, message),)


class Problems:
    """Collects problems while one document is compiled, so all are reported at once."""

    def __init__(self) -> None:
        self._found: list[tuple[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self._found.append((field, message))

    def __bool__(self) -> bool:
        return bool(self._found)

    def error(self) -> TransformError:
        field, message = self._found[0]
        return TransformError(field, message, tuple(self._found))
