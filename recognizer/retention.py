"""What the site stops keeping, and when. A session has ended when no live stored session holds its key (it expired,
or was cleared or deleted); then:

- its personal models go at once, with their weights;
- its unreviewed and rejected samples go, with their files, ANONYMOUS_SAMPLES_KEEP_DAYS after each was saved;
- its approved samples stay for the shared model, detached from the session (``session_key`` NULL);

and, for everyone, the weights of gate-rejected candidates go after REJECTED_KEEP_DAYS, and sample files that no
sample refers to once they are CLEANUP_GRACE_SECONDS old. The training worker runs this on its own schedule
(training.housekeeping); ``manage.py cleanup_media`` runs it on demand.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .models import ModelVersion, Sample
from .services import media_orphans_remove
from .versions import personal_models_of_ended_sessions_delete, rejected_weights_delete

DELETE_BATCH = 500  # samples per transaction: each one's files go when its batch commits


@dataclass
class Cleanup:
    """What one cleanup removed."""
    ended_sessions: list[str] = field(default_factory=list)  # short ids whose personal models went
    rejected_weights: list[ModelVersion] = field(default_factory=list)
    samples_deleted: int = 0
    samples_detached: int = 0
    orphans: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"personal_models_of_ended_sessions": len(self.ended_sessions),
                "rejected_weights": len(self.rejected_weights), "samples_deleted": self.samples_deleted,
                "samples_detached": self.samples_detached, "orphaned_files": len(self.orphans)}


def stored_data_clean(*, now: datetime | None = None) -> Cleanup:
    """Delete what nothing needs any more (see the module's docstring); return what went."""
    now = now or timezone.now()
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()  # what `clearsessions` does
    cleanup = Cleanup()
    with transaction.atomic():  # weights go once the deletion is committed
        cleanup.ended_sessions = personal_models_of_ended_sessions_delete()
    cleanup.rejected_weights = rejected_weights_delete(older_than_days=settings.REJECTED_KEEP_DAYS)
    cleanup.samples_deleted, cleanup.samples_detached = ended_sessions_samples_clean(now=now)
    cleanup.orphans = media_orphans_remove(now=now)
    return cleanup


def samples_of_ended_sessions(now: datetime) -> QuerySet[Sample]:
    """Samples whose session has ended; never those already detached (NULL: staff kept them)."""
    live = Session.objects.filter(expire_date__gt=now).values("session_key")
    return Sample.objects.filter(session_key__isnull=False).exclude(session_key__in=live)


def ended_sessions_samples_clean(*, now: datetime) -> tuple[int, int]:
    """Delete the unreviewed and rejected samples of ended sessions saved more than ANONYMOUS_SAMPLES_KEEP_DAYS
    before ``now``, with their files, and detach their approved ones; return how many went and how many were
    detached."""
    ended = samples_of_ended_sessions(now)
    detached = ended.filter(status=Sample.Status.APPROVED).update(session_key=None)
    doomed = ended.filter(status__in=[Sample.Status.NEW, Sample.Status.REJECTED],
                          created__lt=now - timedelta(days=settings.ANONYMOUS_SAMPLES_KEEP_DAYS))
    deleted = 0
    while batch := list(doomed.values_list("pk", flat=True)[:DELETE_BATCH]):
        with transaction.atomic():
            _, per_model = Sample.objects.filter(pk__in=batch).delete()  # files go on commit (recognizer.apps)
        deleted += per_model.get(Sample._meta.label, 0)
    return deleted, detached
