"""Site-wide request handling: a Content-Security-Policy (Django 5.2 has none built in), and a clear 503 when
the database stays busy."""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse

from .api import error

logger = logging.getLogger(__name__)
DATABASE_BUSY = ("The site is very busy right now and could not reach its database, so nothing was saved or "
                 "changed. Try again in a few seconds.")


class ContentSecurityPolicyMiddleware:
    """Send CONTENT_SECURITY_POLICY with every response outside the admin (whose templates use inline styles)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY and not request.path.startswith("/admin/"):
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


class DatabaseBusyMiddleware:
    """A database still locked (or unreachable) after DATABASE_LOCK_TIMEOUT answers 503 with Retry-After, not
    500. The view's write was rolled back with its transaction, and sample_create removes files it stored
    before the failed write, so a refused request leaves nothing behind and an acknowledged one is kept."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError):
            return None
        logger.warning("Answered %s %s with 503: database error %s", request.method, request.path, exception)
        if request.path.startswith("/api/"):
            response = error(DATABASE_BUSY, 503)
        else:
            response = HttpResponse(DATABASE_BUSY, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = "5"
        return response
