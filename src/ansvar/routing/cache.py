"""A bounded cache that drops the entry least recently used: what ansvar keeps between calls.

Every cache of a router is keyed by what the pack's rules made of a situation (the engine rules that fired,
the grid classes of its facts, the routing date), never by a value of it, and holds the pack's own answers;
each is bounded, and when full it forgets the entry used longest ago, so traffic that keeps more distinct
answers in play than it holds still finds the recent ones (a cache cleared whole when full misses them all
at once).

>>> cache: LRU[str, int] = LRU(2)
>>> for key, value in [("a", 1), ("b", 2)]:
...     _ = cache.put(key, value)
>>> cache.get("a")
1
>>> _ = cache.put("c", 3)
>>> list(cache)
['a', 'c']
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LRU(OrderedDict[K, V], Generic[K, V]):
    """At most `size` entries; `get` marks an entry used, `put` adds one and drops the least recently used.

    Safe across threads (`put` under a short lock; `get` without one); compares as a dict (`LRU(8) == {}`
    while empty).
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self._lock = threading.Lock()

    def get(self, key: K, default: V | None = None) -> V | None:  # type: ignore[override]
        """The entry of `key` (now the most recently used), or `default`."""
        try:  # each step is one call into C, atomic between threads: a race at worst misses
            self.move_to_end(key)
            return super().__getitem__(key)
        except KeyError:
            return default

    def put(self, key: K, value: V) -> V:
        """Keep `value` under `key` as the most recently used; drop the least recently used past `size`."""
        with self._lock:
            super().__setitem__(key, value)
            self.move_to_end(key)
            while len(self) > self.size:
                self.popitem(last=False)
        return value
