"""One size-bounded mapping for every cache the daemon keeps, with one eviction rule.

Whatever a tenant can make the daemon remember (compiled transforms, endpoints, token grants,
rate-limit buckets, checked URIs, accounts) is bounded, or a caller inventing keys grows the
process without limit. The rule everywhere: least recently used goes first — a read or a
write makes a key the most recent, and a write past ``max_size`` drops the oldest key.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A least-recently-used mapping of at most ``max_size`` keys."""

    __slots__ = ("_items", "max_size")

    def __init__(self, max_size: int) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.max_size = max_size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value for ``key`` (now the most recent), or None."""
        try:
            value = self._items[key]
        except KeyError:
            return None
        self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        """Store ``value`` as the most recent; drop the oldest keys past ``max_size``."""
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.max_size:
            self._items.popitem(last=False)

    def setdefault(self, key: K, make: Callable[[], V]) -> V:
        """The value for ``key``, made with ``make()`` and stored when there is none."""
        found = self.get(key)
        if found is None:
            found = make()
            self.put(key, found)
        return found

    def pop(self, key: K) -> V | None:
        """Forget ``key``; its value, or None."""
        return self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._items))
