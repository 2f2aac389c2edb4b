"""Per-client request budgets: how many requests one client address may make in a fixed window of time.

Counts live in a small SQLite file (``settings.RATE_LIMIT_STORE``) that every web process on the machine
shares, so a budget holds whichever gunicorn worker a request reaches: one atomic upsert (~20 µs) per counted
request. Several servers behind a balancer each count their own share. The same store counts failures (sign-ins
with a wrong password) under any keys, e.g. per client address and per username.
"""

import ipaddress
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable
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
    """The client's network: its IPv4 address, or the /64 of its IPv6 address (one household or phone holds a whole
    /64, so counting single IPv6 addresses would give it billions of budgets). It is REMOTE_ADDR, or, behind
    NUM_PROXIES trusted proxies, the address the outermost of them saw (X-Forwarded-For entries further left are
    the client's own claims and cannot be trusted). Worked out once per request: the rate limit and the visitor
    both ask."""
    if (known := getattr(request, "_client_network", None)) is not None:
        return known
    request._client_network = _client_network(request)
    return request._client_network


def _client_network(request: HttpRequest) -> str:
    address = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.NUM_PROXIES
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    return _network(address)


def _network(address: str) -> str:
    try:
        parsed = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address or "unknown"
    if parsed.version == 6:
        if parsed.ipv4_mapped is not None:  # ::ffff:a.b.c.d is an IPv4 client
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


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

    def peek(self, key: str) -> int:
        """The count under ``key`` so far, counting nothing."""
        row = self._connection().execute("SELECT count FROM hits WHERE key = ?", (key,)).fetchone()
        return row[0] if row else 0


_stores: dict[Path, WindowCounts] = {}
_stores_lock = threading.Lock()


def _store() -> WindowCounts:
    path = Path(settings.RATE_LIMIT_STORE)
    with _stores_lock:
        return _stores.setdefault(path, WindowCounts(path))


class CountsUnavailable(Exception):
    """The store cannot count, and what asked must not go uncounted (a sign-in): refuse it."""


def _over_budget(scope: str, keys: list[str], count: Callable[[WindowCounts, str, float], int], *,
                 fail_open: bool = True) -> int | None:
    """``count(store, key, renews)`` for each key in the current window of ``scope``'s budget: None while every
    count is within the budget, else the whole seconds until the budget renews. When the store fails: None with
    ``fail_open``, else CountsUnavailable."""
    budget: Budget = settings.RATE_LIMITS[scope]
    now = time.time()
    window = int(now // budget.seconds)
    renews = (window + 1) * budget.seconds
    try:
        counts = [count(_store(), f"{scope}:{key}:{budget.seconds}:{window}", renews) for key in keys]
    except (sqlite3.Error, OSError) as exc:  # never let the limiter take the site down: count nothing, say so
        if not fail_open:
            logger.error("Rate limit store %s failed, %s refused: %s", settings.RATE_LIMIT_STORE, scope, exc)
            raise CountsUnavailable(str(exc)) from exc
        logger.error("Rate limit store %s failed, request not counted: %s", settings.RATE_LIMIT_STORE, exc)
        return None
    if max(counts) <= budget.requests:
        return None
    return max(1, math.ceil(renews - now))


def seconds_to_wait(request: HttpRequest, scope: str) -> int | None:
    """Count this request against its client's budget for ``scope`` ('predict', 'samples'): None while within
    it, else the whole seconds until the budget renews."""
    if not settings.RATE_LIMIT_ENABLED:
        return None
    return _over_budget(scope, [client_address(request)], WindowCounts.hit)


def failures_wait(scope: str, keys: list[str]) -> int | None:
    """None while every key has fewer failures in this window than ``scope``'s budget allows, else the whole
    seconds until the budget renews. Counts nothing: record each failure with failure_record(). Unlike request
    budgets this holds with RATE_LIMIT_ENABLED off, which is for many requests from one address (load
    benchmarks, a classroom behind one NAT address), not for wrong passwords. It fails closed: CountsUnavailable
    when the store cannot be read, so that a guesser never gets uncounted tries."""
    return _over_budget(scope, keys, lambda store, key, renews: store.peek(key) + 1, fail_open=False)


def failure_record(scope: str, keys: list[str]) -> None:
    """Count one failure under each key against ``scope``'s budget."""
    _over_budget(scope, keys, WindowCounts.hit)
