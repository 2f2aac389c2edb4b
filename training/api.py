"""JSON endpoints for fine-tune jobs (session cookie + CSRF, like the samples API)."""

from django.http import HttpRequest, JsonResponse

from recognizer.exceptions import NoActiveModel
from recognizer.http import allow, error, rate_limited, session_key_for, stored_session_key

from .exceptions import TrainingRefused
from .models import TrainingRun
from .services import training_run_create, training_run_queue_position, training_runs_fail_stale


def run_json(run: TrainingRun) -> dict:
    return {
        "id": run.pk,
        "kind": run.kind,
        "status": run.status,
        "queue_position": training_run_queue_position(run),
        "progress": round(run.progress, 4),
        "history": run.history,
        "metrics": run.metrics,
        "model_version": run.result_id,
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
    """POST: start a personal fine-tune on this session's samples. GET: this session's latest run, if any."""
    if request.method == "GET":
        training_runs_fail_stale()
        latest = TrainingRun.objects.filter(session_key=stored_session_key(request) or "",
                                            kind=TrainingRun.Kind.PERSONAL).first()
        return JsonResponse({"run": run_json(latest) if latest else None})
    try:
        run = training_run_create(session_key=session_key_for(request))
    except TrainingRefused as exc:
        return error(str(exc), exc.status, request=request)
    except NoActiveModel as exc:
        return error(str(exc), 503, request=request)
    return JsonResponse({"job": run.pk, "status_url": f"/api/train/{run.pk}"}, status=202)


@allow("GET")
def train_status(request: HttpRequest, run_id: int) -> JsonResponse:
    training_runs_fail_stale()
    run = TrainingRun.objects.filter(pk=run_id, session_key=stored_session_key(request) or "",
                                     kind=TrainingRun.Kind.PERSONAL).first()
    if run is None:
        return error("There is no such training run in this session.", 404, request=request)
    return JsonResponse(run_json(run))
