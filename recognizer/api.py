"""JSON endpoints. Each parses, calls one service and answers; every failure is {"error": ...} with a 4xx/503."""

import base64
import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import csrf as csrf_views, defaults as default_views
from django.views.decorators.csrf import csrf_exempt

from .exceptions import NoActiveModel, SampleLimitReached
from .forms import DrawingForm, RequestRefused, drawing_form_from_request, sample_form_from_request
from .ml.preprocessing import InvalidImage, encode_png
from .models import Sample
from .ratelimit import seconds_to_wait
from .services import (
    Prediction, prediction_make, sample_counts, sample_create, sample_delete, samples_clear, samples_for_session,
)

logger = logging.getLogger(__name__)


def error(message: str, status: int, *, request: HttpRequest | None = None) -> JsonResponse:
    if request is not None:
        logger.warning("Refused %s %s (%s): %s", request.method, request.path, status, message)
    return JsonResponse({"error": message}, status=status)


def allow(*methods: str) -> Callable:
    """Answer other methods with a JSON 405 that says which ones work."""
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in methods:
                response = error(f"Use {' or '.join(methods)} here.", 405, request=request)
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)
        return wrapper
    return decorator


def rate_limited(scope: str, what: str) -> Callable:
    """Answer a client past its budget for ``scope`` (settings.RATE_LIMITS) with 429 and Retry-After, before
    reading the request body. GET, HEAD and DELETE are never counted."""
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            wait = seconds_to_wait(request, scope) if request.method == "POST" else None
            if wait is not None:
                response = error(f"Too many {what} from your address in a short time. Wait {wait} s, then try "
                                 "again.", 429, request=request)
                response["Retry-After"] = str(wait)
                return response
            return view(request, *args, **kwargs)
        return wrapper
    return decorator


def prediction_json(prediction: Prediction) -> dict:
    return {
        "digit": prediction.digit,
        "confidence": round(prediction.confidence, 6),
        "probabilities": prediction.probabilities,
        "model_version": prediction.model_version,
        "preprocessed": "data:image/png;base64," + base64.b64encode(encode_png(prediction.preprocessed)).decode(),
    }


def _invalid(form: DrawingForm, request: HttpRequest) -> JsonResponse:
    return error(form.first_error(), 400, request=request)


@csrf_exempt  # predicting changes nothing, so scripts may call it without a CSRF token
@allow("POST")
@rate_limited("predict", "predictions")
def predict(request: HttpRequest) -> JsonResponse:
    try:
        form = drawing_form_from_request(request)
    except RequestRefused as exc:
        return error(str(exc), exc.status, request=request)
    if not form.is_valid():
        return _invalid(form, request)
    try:
        prediction = prediction_make(image_bytes=form.cleaned_data["image_bytes"])
    except InvalidImage as exc:
        return error(str(exc), 400, request=request)
    except NoActiveModel as exc:
        return error(str(exc), 503, request=request)
    return JsonResponse(prediction_json(prediction))


@csrf_exempt  # it changes nothing: a POST gets 405 from allow(), not a confusing CSRF refusal
@allow("GET", "HEAD")
def health(request: HttpRequest) -> JsonResponse:
    """A trivial view: load balancers poll it, and the benchmarks use it as the floor."""
    return JsonResponse({"status": "ok"})


def sample_json(sample: Sample) -> dict:
    return {
        "id": sample.pk,
        "label": sample.label,
        "image_url": sample.drawing.url,
        "preprocessed_url": sample.digit.url,
        "predicted": sample.predicted,
        "confidence": sample.confidence,
        "model_version": sample.model_version_id,
        "status": sample.status,
        "created": sample.created.isoformat(),
    }


def session_key_for(request: HttpRequest) -> str:
    """This browser's session key, creating the session (a database row) on its first sample."""
    if request.session.session_key is None:
        request.session.save()
    return request.session.session_key


@allow("GET", "POST", "DELETE")
@rate_limited("samples", "saved drawings")
def samples(request: HttpRequest) -> JsonResponse | HttpResponse:
    """GET: this session's samples, newest first, with counts per label. POST: keep one. DELETE: clear all."""
    if request.method == "POST":
        return _sample_create(request)
    if request.method == "DELETE":
        samples_clear(session_key=session_key_for(request))
        return HttpResponse(status=204)
    kept = samples_for_session(request.session.session_key or "")
    return JsonResponse({"samples": [sample_json(s) for s in kept], "counts": sample_counts(kept),
                         "total": kept.count(), "limit": settings.MAX_SAMPLES_PER_SESSION})


def _sample_create(request: HttpRequest) -> JsonResponse:
    try:
        form = sample_form_from_request(request)
    except RequestRefused as exc:
        return error(str(exc), exc.status, request=request)
    if not form.is_valid():
        return _invalid(form, request)
    try:
        sample = sample_create(session_key=session_key_for(request), label=form.cleaned_data["label"],
                               image_bytes=form.cleaned_data["image_bytes"])
    except InvalidImage as exc:
        return error(str(exc), 400, request=request)
    except SampleLimitReached as exc:
        return error(str(exc), 429, request=request)
    return JsonResponse(sample_json(sample), status=201)


@allow("DELETE")
def sample_detail(request: HttpRequest, sample_id: int) -> JsonResponse | HttpResponse:
    try:
        sample_delete(session_key=request.session.session_key or "", sample_id=sample_id)
    except Sample.DoesNotExist:
        return error("There is no such sample in this session.", 404, request=request)
    return HttpResponse(status=204)


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
