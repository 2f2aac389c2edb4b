"""HTML pages."""

import logging
import re

from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

from .exceptions import STORE_RETRY_AFTER
from .http import visitor_of
from .versions import active_version, personal_model_state


logger = logging.getLogger(__name__)


@ensure_csrf_cookie  # the page's script sends the token with every change it makes
def index(request: HttpRequest) -> HttpResponse:
    """The drawing page: canvas, live prediction and what the network saw."""
    return render(request, "recognizer/index.html", {
        "model_version": active_version(),
        "model_state": personal_model_state(visitor_of(request)),  # for the line naming the model
    })


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers, feed readers and crawlers ask for /favicon.ico whatever a page links: send them to the icon."""
    return HttpResponseRedirect(static("recognizer/favicon.ico"))


# What sample files are called (models._sample_path): nothing else is served from the store.
MEDIA_NAME = re.compile(r"samples/[0-9]{4}/[0-9]{2}/[0-9a-f]{32}-(?:drawing|28x28)\.png")


def media_file(request: HttpRequest, path: str) -> HttpResponse:
    """Sample images, small PNGs under unguessable names, from whichever storage keeps them (the file system, or
    object storage: recognizer/storage.py says why they are served by the site). A web server can take this over
    on one machine (SERVE_MEDIA=false)."""
    if not MEDIA_NAME.fullmatch(path):
        raise Http404("No such image.")
    try:
        with default_storage.open(path, "rb") as handle:
            content = handle.read()
    except FileNotFoundError:
        raise Http404("No such image.") from None
    except Exception:  # the store's client raises its own errors when it cannot be reached
        logger.exception("Media %s could not be read from the store", path)
        response = HttpResponse("The image store cannot be reached just now; try again in a moment.", status=503,
                                content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(STORE_RETRY_AFTER)
        return response
    response = HttpResponse(content, content_type="image/png")
    response["Cache-Control"] = "private, max-age=31536000, immutable"  # a name is never reused for other pixels
    return response
