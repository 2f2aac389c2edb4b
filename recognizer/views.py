"""HTML pages."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from .models import ModelVersion


@ensure_csrf_cookie  # the page's script sends the token with every change it makes
def index(request: HttpRequest) -> HttpResponse:
    """The drawing page: canvas, live prediction and what the network saw."""
    return render(request, "recognizer/index.html", {
        "model_version": ModelVersion.objects.filter(is_active=True).first(),
        "max_upload_mb": settings.MAX_UPLOAD_BYTES / 1_000_000,
    })
