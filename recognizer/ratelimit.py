"""Per-client request budgets: how many requests one client address may make in a fixed window of time.

Counts live in a small SQLite file (``settings.RATE_LIMIT_STORE``) that every web process on the machine
shares, so a budget holds whichever gunicorn worker a request reaches: one atomic upsert (~20 µs) per counted
request. Several servers behind a balancer each count their own share.
"""

import logging
import math
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Budget:
    requests: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> "Budget":
        """'300/30' -> 300 requests per 30 seconds."""
        requests, _, seconds = text.partition("/")
        budget = cls(int(requests), int(seconds or 1))
        if budget.requests < 1 or budget.seconds < 1:
            raise ValueError(f"a budget needs at least 1 request per at least 1 second, not {text!r}")
        return budget


def client_address(request: HttpRequest) -> str:
    """The client's IP address: REMOTE_ADDR, or, behind NUM_PROXIES trusted proxies, the address the outermost
    of them saw (X-Forwarded-For entries further left are the client's own claims and cannot be trusted)."""
    proxies = settings.NUM_PROXIES
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


class WindowCounts:
    """Request counts per key and time window in one SQLite file, shared by every process that opens it."""

    SCHEMA = "CREATE TABLE IF NOT EXISTS hits (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL)"
    UPSERT = ("INSERT INTO hits VALUES (?, 1, ?) ON CONFLICT (key) DO UPDATE SET count = count + 1 "
              "RETURNING count")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()  # a connection per thread: sqlite3 connections are not shared

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, isolation_level=None, timeout=2.0)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")  # losing counts in a power cut costs nothing
            connection.execute(self.SCHEMA)
            self._local.connection = connection
        return connection

    def hit(self, key: str, expires: float) -> int:
        """Count one more request under ``key`` (which names its window); the count so far."""
        connection = self._connection()
        count = connection.execute(self.UPSERT, (key, expires)).fetchone()[0]
        if count == 1:  # a new window began: forget the ones that have ended
            connection.execute("DELETE FROM hits WHERE expires < ?", (time.time(),))
        return count


_stores: dict[Path, WindowCounts] = {}
_stores_lock = threading.Lock()


def _store() -> WindowCounts:
    path = Path(settings.RATE_LIMIT_STORE)
    with _stores_lock:
        return _stores.setdefault(path, WindowCounts(path))


def seconds_to_wait(request: HttpRequest, scope: str) -> int | None:
    """Count this request against its client's budget for ``scope`` ('predict', 'samples'): None while within
    it, else the whole seconds until the budget renews."""
    if not settings.RATE_LIMIT_ENABLED:
        return None
    budget: Budget = settings.RATE_LIMITS[scope]
    now = time.time()
    window = int(now // budget.seconds)
    renews = (window + 1) * budget.seconds
    try:
        count = _store().hit(f"{scope}:{client_address(request)}:{budget.seconds}:{window}", renews)
    except sqlite3.Error as exc:  # never let the limiter take the site down: count nothing, say so
        logger.error("Rate limit store %s failed, request not counted: %s", settings.RATE_LIMIT_STORE, exc)
        return None
    if count <= budget.requests:
        return None
    return max(1, math.ceil(renews - now))
