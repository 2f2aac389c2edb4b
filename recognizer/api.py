"""JSON endpoints. Each parses, calls one service and answers; every failure is {"error": ...} with a 4xx/503."""

import base64
import logging
from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .exceptions import NoActiveModel
from .forms import RequestRefused, drawing_form_from_request
from .ml.preprocessing import InvalidImage, encode_png
from .services import Prediction, prediction_make

logger = logging.getLogger(__name__)
TOO_LARGE_CODES = {"too_large"}


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


def prediction_json(prediction: Prediction) -> dict:
    return {
        "digit": prediction.digit,
        "confidence": round(prediction.confidence, 6),
        "probabilities": prediction.probabilities,
        "model_version": prediction.model_version,
        "preprocessed": "data:image/png;base64," + base64.b64encode(encode_png(prediction.preprocessed)).decode(),
    }


@csrf_exempt  # predicting changes nothing, so scripts may call it without a CSRF token
@allow("POST")
def predict(request: HttpRequest) -> JsonResponse:
    try:
        form = drawing_form_from_request(request)
    except RequestRefused as exc:
        return error(str(exc), exc.status, request=request)
    if not form.is_valid():
        message, code = form.first_error()
        return error(message, 413 if code in TOO_LARGE_CODES else 400, request=request)
    try:
        prediction = prediction_make(image_bytes=form.cleaned_data["image_bytes"])
    except InvalidImage as exc:
        return error(str(exc), 400, request=request)
    except NoActiveModel as exc:
        return error(str(exc), 503, request=request)
    return JsonResponse(prediction_json(prediction))


@allow("GET", "HEAD")
def health(request: HttpRequest) -> JsonResponse:
    """A trivial view: load balancers poll it, and the benchmarks use it as the floor."""
    return JsonResponse({"status": "ok"})
