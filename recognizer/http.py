"""Site-wide HTTP plumbing: how the site says no (JSON under /api/, plain words for pages), method and rate-limit
guards, the 400/404/500 and CSRF handlers, and which visitor (stored session) a request belongs to."""

import logging
from collections.abc import Callable, Iterable
from functools import wraps

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views import csrf as csrf_views, defaults as default_views

from .exceptions import Refusal
from .forms import ApiForm
from .ratelimit import client_address, seconds_to_wait
from .visitors import Visitor, network_key

logger = logging.getLogger(__name__)

def error(message: str, status: int, *, request: HttpRequest | None = None,
          retry_after: int | None = None) -> JsonResponse:
    """The answer to a refused API request: {"error": message} with its status. A session the request created to
    keep something is forgotten with it, so a refused save (a budget spent, nothing to train on) writes nothing."""
    if request is not None:
        logger.warning("Refused %s %s (%s): %s", request.method, request.path, status, message)
        if getattr(request, "visitor_is_new", False):
            request.session.flush()  # deletes its row; an empty session sets no cookie
    response = JsonResponse({"error": message}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def refused(request: HttpRequest, refusal: Refusal) -> JsonResponse:
    """The answer to a Refusal a service raised: its words, its status, and Retry-After when waiting helps."""
    return error(str(refusal), refusal.status, request=request, retry_after=refusal.retry_after)


def answered(request: HttpRequest, form_from_request: Callable[[HttpRequest], ApiForm],
              act: Callable[[dict], JsonResponse]) -> JsonResponse:
    """Parse the request into its form, then ``act`` on the cleaned data; every refusal on the way is answered as
    {"error": ...}: 400 for an invalid form, and any Refusal (an unreadable body, what a service raises) with its
    own status and, when waiting helps, Retry-After."""
    try:
        form = form_from_request(request)
        if not form.is_valid():
            return error(form.first_error(), 400, request=request)
        return act(form.cleaned_data)
    except Refusal as exc:
        return refused(request, exc)


def _not_allowed(request: HttpRequest, methods: Iterable[str]) -> JsonResponse:
    methods = list(methods)
    response = error(f"Use {' or '.join(methods)} here.", 405, request=request)
    response["Allow"] = ", ".join(methods)
    return response


def allow(*methods: str) -> Callable:
    """Answer other methods with a JSON 405 that says which ones work."""
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in methods:
                return _not_allowed(request, methods)
            return view(request, *args, **kwargs)
        return wrapper
    return decorator


def by_method(**views: Callable) -> Callable:
    """One URL, one view per method (``GET=list, POST=create``): each method's view does one thing, and other
    methods get a JSON 405 that says which ones work."""
    def view(request: HttpRequest, *args, **kwargs):
        chosen = views.get(request.method)
        if chosen is None:
            return _not_allowed(request, views)
        return chosen(request, *args, **kwargs)
    view.csrf_exempt = all(getattr(chosen, "csrf_exempt", False) for chosen in views.values())
    return view


# Reads (GET, HEAD) are counted under their own, more generous budget: the page polls a training run's progress.
READS_SCOPE = "reads"


def rate_limited(scope: str, what: str) -> Callable:
    """Answer a client past its budget with 429 and Retry-After, before reading the request body. Every method is
    counted: changes (POST, DELETE) against ``scope``'s budget (settings.RATE_LIMITS), reads against "reads"."""
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            reading = request.method in {"GET", "HEAD", "OPTIONS"}
            wait = seconds_to_wait(request, READS_SCOPE if reading else scope)
            if wait is not None:
                spent = "requests" if reading else what
                return error(f"Too many {spent} from your address in a short time. Wait {wait} s, then try again.",
                             429, request=request, retry_after=wait)
            return view(request, *args, **kwargs)
        return wrapper
    return decorator


# A stored session is kept alive by use: its expiry moves on at most once a day (one write), not on every request.
_LAST_SEEN = "seen"


def visitor_of(request: HttpRequest) -> Visitor | None:
    """This browser's Visitor, or None when it has no session the site stored. The cookie alone proves nothing: a
    client can send any key. Reading the session loads it, and loading forgets a key that names no live stored
    session (forged, expired or deleted), so only a key the site itself issued makes a Visitor. Creates nothing:
    a request that changes nothing leaves no session row behind."""
    session = request.session
    today = timezone.now().date().isoformat()
    if session.get(_LAST_SEEN) != today and session.session_key is not None:
        session[_LAST_SEEN] = today  # saved with the answer: the session's expiry starts again from today
    return None if session.session_key is None else _visitor(request)


def visitor_for(request: HttpRequest) -> Visitor:
    """This browser's Visitor, creating a new session (a database row, and a cookie in the answer) when it has
    none or sent a key the site never issued; never the key a client chose. Only for requests that keep
    something."""
    visitor = visitor_of(request)
    if visitor is None:
        request.session[_LAST_SEEN] = timezone.now().date().isoformat()
        request.session.save()
        request.visitor_is_new = True
        visitor = _visitor(request)
    return visitor


def _visitor(request: HttpRequest) -> Visitor:
    return Visitor(session_key=request.session.session_key, network=network_key(client_address(request)))


def _for_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def refusal(request: HttpRequest, message: str, status: int) -> HttpResponse:
    """How the site says no outside a view (middleware, error handlers): JSON {"error": ...} under /api/, the
    same words as plain text for pages. Logged either way."""
    if _for_api(request):
        return error(message, status, request=request)
    logger.warning("Refused %s %s (%s): %s", request.method, request.path, status, message)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF refusals: JSON for the API, Django's usual page elsewhere."""
    if _for_api(request):
        return error("This change needs the CSRF token from the page (header X-CSRFToken); reload the page and "
                     "try again.", 403, request=request)
    return csrf_views.csrf_failure(request, reason=reason)


# The site's handler400/404/500 (mnistsite/urls.py): the API answers every error as JSON, pages as Django does.

def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    # Not Django's bad_request for pages: it checks the CSRF token again, which re-reads the body that just failed.
    return refusal(request, "The request could not be read. Check its headers and body, and try again.", 400)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _for_api(request):
        return error(f"There is nothing at {request.path}. The API is /api/predict, /api/samples and /api/train.",
                     404, request=request)
    return default_views.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _for_api(request):
        return error("Something went wrong on our side; nothing was changed. Try again in a moment.", 500)
    return default_views.server_error(request)
