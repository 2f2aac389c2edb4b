"""JSON endpoints for a visitor's training runs, their model and their data (session cookie + CSRF, like the
samples API). A request with no stored session has no visitor: it reads nothing and changes nothing."""

from django.http import HttpRequest, HttpResponse, JsonResponse

from recognizer.api import answered
from recognizer.exceptions import NoActiveModel
from recognizer.forms import model_choice_form_from_request
from recognizer.http import allow, error, rate_limited, visitor_for, visitor_of
from recognizer.versions import personal_model_number, personal_model_state, personal_model_use

from .exceptions import TrainingRefused
from .models import TrainingRun
from .services import training_run_create, training_run_queue_position, training_runs_fail_stale
from .visitor_data import visitor_data_delete, visitor_data_summary, visitor_model_delete


def run_json(run: TrainingRun) -> dict:
    return {
        "id": run.pk,
        "kind": run.kind,
        "status": run.status,
        "queue_position": training_run_queue_position(run),
        "progress": round(run.progress, 4),
        "history": run.history,
        "metrics": run.outcome.to_json(),
        "model_version": run.result_id,
        "model_number": personal_model_number(run.result) if run.status == TrainingRun.Status.SUCCEEDED else None,
        "parent_version": run.parent_id,
        "epochs": run.params.get("epochs"),
        "samples": run.samples.count(),
        "error": run.error or None,
        "created": run.created.isoformat(),
        "finished": run.finished.isoformat() if run.finished else None,
    }


@allow("GET", "POST")
@rate_limited("train", "training runs")
def train(request: HttpRequest) -> JsonResponse:
    """POST: start a personal fine-tune on this visitor's samples. GET: their latest run, if any."""
    if request.method == "GET":
        return _latest_run(request)
    try:
        run = training_run_create(visitor=visitor_for(request))
    except TrainingRefused as exc:
        return error(str(exc), exc.status, request=request, retry_after=getattr(exc, "retry_after", None))
    except NoActiveModel as exc:
        return error(str(exc), 503, request=request)
    return JsonResponse({"job": run.pk, "status_url": f"/api/train/{run.pk}"}, status=202)


def _personal_runs(request: HttpRequest):
    visitor = visitor_of(request)
    if visitor is None:
        return TrainingRun.objects.none()
    return TrainingRun.objects.filter(session_key=visitor.session_key, kind=TrainingRun.Kind.PERSONAL)


def _latest_run(request: HttpRequest) -> JsonResponse:
    training_runs_fail_stale()
    latest = _personal_runs(request).first()
    return JsonResponse({"run": run_json(latest) if latest else None})


@allow("GET")
@rate_limited("train", "training runs")
def train_status(request: HttpRequest, run_id: int) -> JsonResponse:
    training_runs_fail_stale()
    run = _personal_runs(request).filter(pk=run_id).first()
    if run is None:
        return error("There is no such training run in this session.", 404, request=request)
    return JsonResponse(run_json(run))


@allow("GET", "POST", "DELETE")
@rate_limited("samples", "changes")
def model(request: HttpRequest) -> JsonResponse | HttpResponse:
    """GET: which model reads this visitor's drawings. POST {"use": "personal"|"shared"}: switch. DELETE: delete
    their personal model (and cancel a run that would bring it back); the shared one reads their drawings again."""
    if request.method == "DELETE":
        if (visitor := visitor_of(request)) is not None:
            visitor_model_delete(visitor=visitor)
        return HttpResponse(status=204)
    if request.method == "POST":
        return answered(request, model_choice_form_from_request, _model_use(request))
    return JsonResponse(personal_model_state(visitor_of(request)))


def _model_use(request: HttpRequest):
    def use(data: dict) -> JsonResponse:
        visitor = visitor_of(request)
        if visitor is None or personal_model_use(visitor=visitor, personal=data["use"] == "personal") is None:
            return error("You have no personal model yet: save drawings and press Train to make one.", 404,
                         request=request)
        return JsonResponse(personal_model_state(visitor))

    return use


@allow("GET", "DELETE")
@rate_limited("samples", "changes")
def my_data(request: HttpRequest) -> JsonResponse:
    """GET: what the site keeps of this visitor, in counts. DELETE: delete all of it, the session included."""
    visitor = visitor_of(request)
    if request.method == "DELETE":
        deleted = visitor_data_delete(visitor=visitor) if visitor else {"samples": 0, "personal_models": 0,
                                                                         "training_runs": 0}
        request.session.flush()  # the answer clears the cookie; the next visit starts afresh
        return JsonResponse({"deleted": deleted})
    return JsonResponse(visitor_data_summary(visitor=visitor))
