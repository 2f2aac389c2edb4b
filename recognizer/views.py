"""HTML pages."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.static import serve

from .http import stored_session_key
from .models import ModelVersion
from .versions import personal_model_state


@ensure_csrf_cookie  # the page's script sends the token with every change it makes
def index(request: HttpRequest) -> HttpResponse:
    """The drawing page: canvas, live prediction and what the network saw."""
    return render(request, "recognizer/index.html", {
        "model_version": ModelVersion.objects.filter(is_active=True).first(),
        "model_state": personal_model_state(stored_session_key(request)),  # for the line naming the model
    })


def media_file(request: HttpRequest, path: str) -> HttpResponse:
    """Sample images: small PNGs under unguessable names. A web server or object storage can take this over
    (SERVE_MEDIA=false)."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)
