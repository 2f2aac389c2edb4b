"""Site-wide request handling: request bodies bounded in size and time, a Content-Security-Policy (Django 5.2
has none built in), and a clear 503 when the database stays busy."""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, UnreadablePostError

from .http import refusal

logger = logging.getLogger(__name__)
DATABASE_BUSY = ("The site is very busy right now and could not reach its database, so nothing was saved or "
                 "changed. Try again in a few seconds.")


class RequestBodyMiddleware:
    """Bound every request body before anything reads it (the CSRF check reads form bodies, views read the rest).

    A body over MAX_UPLOAD_BYTES gets 413 without a byte of it read. A body without a Content-Length (chunked)
    gets 411: Django reads only a declared length, so it would arrive empty. The body is then read at once; under
    gunicorn each read waits at most REQUEST_BODY_TIMEOUT seconds, so an upload that stalls gets 408 and frees
    its thread instead of holding it until the client gives up (eight stalled uploads would hold every thread of
    a two-worker site). Each refusal closes the connection: the unread rest of the body cannot be skipped.
    Media types are case-insensitive, but Django's multipart parser reads only a lower-case one: it is lowered.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.META.get("HTTP_TRANSFER_ENCODING"):
            return _refuse(request, 411, "Send the body with a Content-Length header (curl -F and browsers do); "
                                         "chunked uploads are not accepted.")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _refuse(request, 400, "The Content-Length header is not a number.")
        if length > settings.MAX_UPLOAD_BYTES:
            return _refuse(request, 413, f"The upload is too large; the limit is "
                                         f"{settings.MAX_UPLOAD_BYTES / 2**20:.3g} MB.")
        if content_type := request.META.get("CONTENT_TYPE"):
            media_type, separator, parameters = content_type.partition(";")
            request.META["CONTENT_TYPE"] = media_type.lower() + separator + parameters  # the boundary keeps its case
        if length and not _body_arrived(request):
            return _refuse(request, 408, f"The upload stopped arriving for {settings.REQUEST_BODY_TIMEOUT:g} s, so "
                                         "the site gave up waiting. Check the connection and send it again.")
        return self.get_response(request)


def _body_arrived(request: HttpRequest) -> bool:
    """Read the whole body now (Django keeps it for the view), each socket read bounded under gunicorn."""
    connection = request.META.get("gunicorn.socket")
    previous = connection.gettimeout() if connection is not None else None
    if connection is not None:
        connection.settimeout(settings.REQUEST_BODY_TIMEOUT)
    try:
        request.body  # noqa: B018 - read for its effect
    except UnreadablePostError:  # the socket timed out, or the client went away mid-body
        return False
    finally:
        if connection is not None:
            connection.settimeout(previous)
    return True


def _refuse(request: HttpRequest, status: int, message: str) -> HttpResponse:
    response = refusal(request, message, status)
    response["Connection"] = "close"
    return response


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
        logger.warning("Database error on %s %s: %s", request.method, request.path, exception)
        response = refusal(request, DATABASE_BUSY, 503)
        response["Retry-After"] = "5"
        return response
