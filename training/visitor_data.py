"""What a visitor can do with everything the site keeps of theirs: see it, delete their model, delete it all.

These live in training because a visitor's data spans both apps: samples and personal models (recognizer), and
the runs that train them (training).
"""

from django.contrib.sessions.models import Session
from django.db import transaction

from recognizer.models import ModelVersion, Sample
from recognizer.services import sample_counts, samples_clear, samples_of
from recognizer.versions import personal_models_delete
from recognizer.visitors import Visitor

from .models import TrainingRun
from .services import training_runs_cancel


def visitor_model_delete(*, visitor: Visitor) -> int:
    """Delete this visitor's personal model, cancelling the run that would otherwise bring it back; the shared
    model reads their drawings again. Return how many versions went."""
    with transaction.atomic():
        training_runs_cancel(visitor=visitor)
        return personal_models_delete(visitor=visitor)


def visitor_data_summary(*, visitor: Visitor | None) -> dict:
    """What the site keeps of this visitor, in counts."""
    if visitor is None:  # nothing stored: no session, nothing of theirs
        return {"samples": 0, "counts": sample_counts(Sample.objects.none()), "personal_models": 0,
                "personal_model_bytes": 0, "training_runs": 0}
    kept = samples_of(visitor)
    models = ModelVersion.objects.owned_by(visitor)
    return {"samples": kept.count(), "counts": sample_counts(kept), "personal_models": models.count(),
            "personal_model_bytes": sum(models.values_list("weights_bytes", flat=True).exclude(weights_bytes=None)),
            "training_runs": TrainingRun.objects.filter(session_key=visitor.session_key).count()}


def visitor_data_delete(*, visitor: Visitor) -> dict:
    """Delete everything the site keeps of this visitor: samples and their files, personal models and their
    weights, queued and finished runs, and the session itself. Files go once the deletion is committed. Return
    what was deleted, in counts."""
    with transaction.atomic():
        models = visitor_model_delete(visitor=visitor)
        samples = samples_clear(visitor=visitor)
        runs = TrainingRun.objects.filter(session_key=visitor.session_key)
        run_count = runs.count()
        runs.delete()
        Session.objects.filter(session_key=visitor.session_key).delete()
    return {"samples": samples, "personal_models": models, "training_runs": run_count}
