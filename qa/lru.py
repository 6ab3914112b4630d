"""A bounded least-recently-used map, safe to share between threads (the query-vector and question caches)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, Hashable, TypeVar

V = TypeVar("V")


class LRU(Generic[V]):
    """At most `size` values; reading or writing a key makes it the most recently used, and the least
    recently used goes first when the map is full. Counts its hits and misses. `get` answers None for a
    key it does not hold, so None is never stored as a value."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"cache size is {size}; it must be at least 1")
        self.size = size
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._values.get(key)
            if value is None:
                self.misses += 1
                return None
            self.hits += 1
            self._values.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)

    def __len__(self) -> int:
        return len(self._values)
