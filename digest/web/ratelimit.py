"""A sliding-window counter per key (a client's IP address), in memory and bounded.

Per process: behind a proxy with several `digest serve` processes each has its own window, which
still caps a burst. The per-address limit (one confirmation mail an hour) is kept in the database
(digest/signup.py), so it holds across processes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque


class RateLimit:
    def __init__(self, limit: int, window_seconds: float, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str, now: float) -> bool:
        """Count one attempt for `key` at `now` (seconds); False when it is over the limit."""
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            allowed = len(hits) < self.limit
            if allowed:
                hits.append(now)
            self._hits[key] = hits  # most recently seen last
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
            return allowed
