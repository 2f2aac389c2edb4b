"""HTML pages."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import ModelVersion


def index(request: HttpRequest) -> HttpResponse:
    """The drawing page: canvas, live prediction and what the network saw."""
    return render(request, "recognizer/index.html", {
        "model_version": ModelVersion.objects.filter(is_active=True).first(),
        "max_upload_mb": settings.MAX_UPLOAD_BYTES / 1_000_000,
    })
