"""Per-client request budgets: how many requests one client address may make in a fixed window of time.

Counts live in Django's cache (``settings.RATE_LIMIT_CACHE``). The default cache is each web process's own
memory, so with W gunicorn workers a client may get up to W times a budget (a keep-alive connection stays
with one worker); point that cache at Redis or Memcached for one count shared by every process and server.
"""

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest


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


def seconds_to_wait(request: HttpRequest, scope: str) -> int | None:
    """Count this request against its client's budget for ``scope`` ('predict', 'samples'): None while within
    it, else the whole seconds until the budget renews."""
    if not settings.RATE_LIMIT_ENABLED:
        return None
    budget: Budget = settings.RATE_LIMITS[scope]
    now = time.time()
    window = int(now // budget.seconds)
    key = f"ratelimit:{scope}:{client_address(request)}:{window}"
    cache = caches[settings.RATE_LIMIT_CACHE]
    cache.add(key, 0, timeout=budget.seconds + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # the window's key expired between add() and incr()
        cache.set(key, 1, timeout=budget.seconds + 1)
        count = 1
    if count <= budget.requests:
        return None
    return max(1, math.ceil((window + 1) * budget.seconds - now))
