"""Model versions and personal models: what views, the admin, the worker and commands call instead of the ORM.

Every version is created by model_version_create (weights written atomically, checksummed, registered), shared
versions become active through model_version_activate, and personal versions reach their session through
personal_model_promote. Deleting a version deletes its weights once the deletion is committed. Weights go
through recognizer/weights.py (STORAGES["models"]).
"""

import json
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from .exceptions import InvalidModelVersion, NoActiveModel
from .inference import active_version_id, forget_active_version, serving
from .ml.figures import ModelCard, VersionFigures
from .ml.checkpoints import CheckpointError, file_sha256, load_checkpoint
from .ml.network import DigitNet
from .ml.personal import PersonalAdapter, adapter_bytes
from .models import ModelVersion, PersonalModel
from .tasks import scoring_enqueue
from .visitors import Visitor
from .weights import (
    weights_delete, weights_save, weights_save_bytes, weights_size, weights_stored, weights_upload,
)

logger = logging.getLogger(__name__)


def model_version_create(*, network: DigitNet | PersonalAdapter, name_prefix: str, owner: Visitor | None = None,
                         metadata: dict | None = None, figures: VersionFigures = VersionFigures(),
                         **fields) -> ModelVersion:
    """Store ``network``'s weights under a new unguessable name and register them as an inactive version with
    ``fields`` (parent, metrics, gate verdict...): a personal version of ``owner``, or a shared one without. A
    personal adapter is stored as its own few weights, naming the checksum of the parent (``fields["parent"]``)
    it was trained on."""
    weights_name = f"{name_prefix}-{uuid.uuid4().hex[:12]}.pt"
    if isinstance(network, PersonalAdapter):
        if owner is None or fields.get("parent") is None:
            raise InvalidModelVersion("A personal adapter needs its owner and the parent it was trained on.")
        sha256 = weights_save_bytes(adapter_bytes(network, parent_sha256=fields["parent"].weights_sha256,
                                                  metadata=metadata), weights_name)
    else:
        sha256 = weights_save(network, weights_name, metadata=metadata)
    kind = ModelVersion.Kind.PERSONAL if owner else ModelVersion.Kind.SHARED
    return ModelVersion.objects.create(weights_name=weights_name, weights_sha256=sha256, kind=kind,
                                       weights_bytes=weights_size(weights_name),
                                       owner=owner.session_key if owner else None,
                                       architecture=network.architecture, metrics=figures.to_json(), **fields)


def model_version_register_base() -> ModelVersion | None:
    """Register the shipped base checkpoint as a version unless it already is one (same SHA-256). On a new site
    it becomes the active version; where versions exist (a site upgraded to a new base model) it is added
    inactive, and staff activate it when they choose. Returns the new version, or None."""
    source = settings.BASE_MODEL_CHECKPOINT
    if not source.exists():
        if not ModelVersion.objects.exists():
            logger.warning("No shipped base model at %s: run `manage.py train_base` to make one.", source)
        return None
    sha256 = file_sha256(source)
    if ModelVersion.objects.filter(weights_sha256=sha256).exists():
        return None
    card = settings.BASE_MODEL_CARD
    figures = ModelCard.from_json(json.loads(card.read_text())).version_figures() if card.exists() else VersionFigures()
    weights_name = f"base-{sha256[:12]}.pt"
    weights_upload(source, weights_name)
    first = not ModelVersion.objects.exists()
    version = ModelVersion.objects.create(
        weights_name=weights_name, weights_sha256=sha256, architecture=load_checkpoint(source)[0].architecture,
        weights_bytes=source.stat().st_size,
        metrics=figures.to_json(), notes="shipped base model", is_active=first,
        activated=timezone.now() if first else None,
    )
    if first:
        _active_version_changed()
    logger.info("Registered the shipped base model as %s%s", version,
                "" if first else " (inactive: activate it in the admin to use it)")
    return version


def active_version() -> ModelVersion | None:
    """The shared version that serves everyone, fresh from the database (None on a site with none yet). Web
    predictions go through inference.serving(), which caches its id for a moment."""
    return ModelVersion.objects.active().first()


def model_version_check_weights(*, version: ModelVersion) -> None:
    """Raise InvalidModelVersion unless the version's weights file exists, matches its checksum and loads."""
    try:
        version.load_network()
    except CheckpointError as exc:
        raise InvalidModelVersion(f"{version}: {exc}") from exc


def model_version_activate(*, version: ModelVersion) -> ModelVersion:
    """Make ``version`` the one active shared version, atomically; refuse a personal version (trained on one
    person's drawings, it must not serve everyone) and one whose weights cannot be loaded."""
    if version.is_personal:
        raise InvalidModelVersion(f"{version} is a personal model: it was trained on one person's drawings and "
                                  "cannot serve everyone.")
    model_version_check_weights(version=version)
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
        ModelVersion.objects.active().exclude(pk=locked.pk).update(is_active=False)
        locked.is_active, locked.activated = True, timezone.now()
        locked.save(update_fields=["is_active", "activated"])
        _active_version_changed()
        scoring_enqueue()  # every sample's suspicion is now the old model's
    version.refresh_from_db()
    logger.info("Activated model %s", version)
    return version


def _active_version_changed() -> None:
    """This process's predictions switch at once (other processes within inference.ACTIVE_ID_TTL_SECONDS): reset
    now, for predictions inside this transaction, and again after commit, for this process's other threads,
    which may have re-read the old id in between."""
    forget_active_version()
    transaction.on_commit(forget_active_version)


def model_versions_delete(versions: QuerySet[ModelVersion]) -> int:
    """Delete versions (never the active one) and, once that is committed, their weights; return how many."""
    doomed = list(versions.filter(is_active=False))
    names = [version.weights_name for version in doomed]
    ModelVersion.objects.filter(pk__in=[version.pk for version in doomed]).delete()
    transaction.on_commit(lambda: weights_delete(names))
    return len(doomed)


def rejected_weights_delete(*, older_than_days: int) -> list[ModelVersion]:
    """Delete the weights files of gate-rejected candidates older than that, keeping their rows and metrics (what
    the gate measured stays on record); return the versions whose files went."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    rejected = ModelVersion.objects.filter(gate_passed=False, is_active=False, created__lt=cutoff)
    purged = [version for version in rejected if weights_stored(version.weights_name)]
    weights_delete([version.weights_name for version in purged])
    return purged


# ---- Personal models ----

def personal_models_of_ended_sessions_delete() -> list[str]:
    """Delete the personal models (with their files) of sessions that have expired or been cleared; return the
    short ids of those sessions. Their samples stay: staff may still review and use them."""
    live = Session.objects.filter(expire_date__gt=timezone.now()).values("session_key")
    ended = set(ModelVersion.objects.filter(kind=ModelVersion.Kind.PERSONAL).exclude(owner__in=live)
                .values_list("owner", flat=True))
    for session_key in ended:
        personal_models_delete(visitor=Visitor(session_key=session_key))
    return sorted(key[:8] for key in ended)


def personal_model_promote(*, visitor: Visitor, version: ModelVersion) -> None:
    """Serve ``version`` to its visitor from their next prediction on, numbered as their next model (#1, #2...,
    which pruning never reuses while the newest stays); prune their older versions."""
    if version.owner != visitor.session_key:
        raise InvalidModelVersion(f"{version} is not this visitor's personal model.")
    with transaction.atomic():
        if version.number is None:
            last = ModelVersion.objects.owned_by(visitor).aggregate(last=Max("number"))["last"] or 0
            version.number = last + 1
            version.save(update_fields=["number"])
        PersonalModel.objects.update_or_create(session_key=visitor.session_key, defaults={"version": version,
                                                                                          "enabled": True})
        personal_versions_prune(visitor=visitor)


def personal_versions_prune(*, visitor: Visitor) -> int:
    """Keep at most PERSONAL_MODELS_PER_SESSION of a visitor's versions, gate-rejected candidates included: the one
    serving them and the newest others. The rest are deleted with their files; return how many."""
    serving = (PersonalModel.objects.filter(session_key=visitor.session_key).values_list("version_id", flat=True)
               .first())
    newest_first = ModelVersion.objects.owned_by(visitor).order_by("-created", "-id")
    kept = [serving] if serving else []
    kept += list(newest_first.exclude(pk=serving).values_list("pk", flat=True)[:settings.PERSONAL_MODELS_PER_SESSION
                                                                              - len(kept)])
    return model_versions_delete(newest_first.exclude(pk__in=kept))


def personal_model_use(*, visitor: Visitor, personal: bool) -> PersonalModel | None:
    """Switch this visitor between their personal model and the shared one; None when they have no personal
    model."""
    choice = PersonalModel.objects.filter(session_key=visitor.session_key).first()
    if choice is not None and choice.enabled != personal:
        choice.enabled = personal
        choice.save(update_fields=["enabled", "updated"])
    return choice


def personal_models_delete(*, visitor: Visitor) -> int:
    """Delete every personal version of this visitor with its files; the shared model reads their drawings
    again. Shared versions are out of reach: owned_by() never matches one."""
    with transaction.atomic():
        PersonalModel.objects.filter(session_key=visitor.session_key).delete()
        return model_versions_delete(ModelVersion.objects.owned_by(visitor))


def personal_model_number(version: ModelVersion | None) -> int | None:
    """What its owner calls a personal version: their model #1, #2... (site-wide version ids are for staff). One
    promoted before versions were numbered counts its owner's versions up to it."""
    if version is None or not version.is_personal:
        return None
    if version.number is not None:
        return version.number
    return ModelVersion.objects.owned_by(Visitor(session_key=version.owner)).filter(pk__lte=version.pk).count()


def personal_model_state(visitor: Visitor | None) -> dict:
    """What a visitor's page shows about the model reading their drawings: the shared version, their own personal
    version (and whether it is switched on), and whether a newer shared model exists than the one it was trained
    from."""
    shared_id = active_version_id()
    choice = (PersonalModel.objects.filter(session_key=visitor.session_key).select_related("version").first()
              if visitor else None)
    personal = choice.version if choice else None
    try:
        served = serving(visitor).predictor
    except NoActiveModel:
        served = None
    return {
        "shared": {"version": shared_id},
        "personal": None if personal is None else {
            "version": personal.pk, "number": personal_model_number(personal), "enabled": choice.enabled,
            "trained_on": personal.trained_on, "stored_bytes": personal.weights_bytes,
            "parent_version": personal.parent_id, "created": personal.created.isoformat(),
            "held_out": personal.figures.held_out and personal.figures.held_out.to_json(),
        },
        "serving": {"version": served.version_id if served else None, "personal": bool(served and served.personal)},
        "newer_shared": bool(personal and shared_id and personal.parent_id != shared_id),
    }
