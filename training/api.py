"""JSON endpoints for a visitor's training runs, their model and their data (session cookie + CSRF, like the
samples API). A request with no stored session has no visitor: it reads nothing and changes nothing."""

from django.http import HttpRequest, HttpResponse, JsonResponse

from recognizer.exceptions import Refusal
from recognizer.forms import model_choice_form_from_request
from recognizer.http import allow, answered, by_method, error, rate_limited, refused, visitor_for, visitor_of
from recognizer.versions import personal_model_number, personal_model_state, personal_model_use

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


@rate_limited("train", "training runs")
def train_start(request: HttpRequest) -> JsonResponse:
    """Start a personal fine-tune on this visitor's samples (a session is made for one that has none)."""
    try:
        run = training_run_create(visitor=visitor_for(request))
    except Refusal as exc:
        return refused(request, exc)
    return JsonResponse({"job": run.pk, "status_url": f"/api/train/{run.pk}"}, status=202)


@rate_limited("train", "training runs")
def train_latest(request: HttpRequest) -> JsonResponse:
    """This visitor's latest run, if any."""
    training_runs_fail_stale()
    latest = _personal_runs(request).first()
    return JsonResponse({"run": run_json(latest) if latest else None})


train = by_method(GET=train_latest, POST=train_start)


def _personal_runs(request: HttpRequest):
    visitor = visitor_of(request)
    if visitor is None:
        return TrainingRun.objects.none()
    return TrainingRun.objects.filter(session_key=visitor.session_key, kind=TrainingRun.Kind.PERSONAL)


@allow("GET")
@rate_limited("train", "training runs")
def train_status(request: HttpRequest, run_id: int) -> JsonResponse:
    training_runs_fail_stale()
    run = _personal_runs(request).filter(pk=run_id).first()
    if run is None:
        return error("There is no such training run in this session.", 404, request=request)
    return JsonResponse(run_json(run))


@rate_limited("samples", "changes")
def model_state(request: HttpRequest) -> JsonResponse:
    """Which model reads this visitor's drawings, and their personal one if any."""
    return JsonResponse(personal_model_state(visitor_of(request)))


@rate_limited("samples", "changes")
def model_use(request: HttpRequest) -> JsonResponse:
    """{"use": "personal"|"shared"}: switch between their personal model and the shared one."""
    def use(data: dict) -> JsonResponse:
        visitor = visitor_of(request)
        if visitor is None or personal_model_use(visitor=visitor, personal=data["use"] == "personal") is None:
            return error("You have no personal model yet: save drawings and press Train to make one.", 404,
                         request=request)
        return JsonResponse(personal_model_state(visitor))

    return answered(request, model_choice_form_from_request, use)


@rate_limited("samples", "changes")
def model_delete(request: HttpRequest) -> HttpResponse:
    """Delete their personal model (and cancel a run that would bring it back); the shared one reads their
    drawings again."""
    if (visitor := visitor_of(request)) is not None:
        visitor_model_delete(visitor=visitor)
    return HttpResponse(status=204)


model = by_method(GET=model_state, POST=model_use, DELETE=model_delete)


@rate_limited("samples", "changes")
def my_data_summary(request: HttpRequest) -> JsonResponse:
    """What the site keeps of this visitor, in counts."""
    return JsonResponse(visitor_data_summary(visitor=visitor_of(request)))


@rate_limited("samples", "changes")
def my_data_delete(request: HttpRequest) -> JsonResponse:
    """Delete all of it, the session included."""
    visitor = visitor_of(request)
    deleted = visitor_data_delete(visitor=visitor) if visitor else {"samples": 0, "personal_models": 0,
                                                                     "training_runs": 0}
    request.session.flush()  # the answer clears the cookie; the next visit starts afresh
    return JsonResponse({"deleted": deleted})


my_data = by_method(GET=my_data_summary, DELETE=my_data_delete)
