"""Staff actions in the admin, on record and permission-checked: what staff do outside a change form (review
samples, activate a version, start a shared run) goes into the admin's history (LogEntry) with who did it, and a
forged POST of an action the staff member was not offered is refused. The history is written here, in the admin
layer, so the services stay free of who asked."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from .models import ModelVersion, Sample

ACTIVATED = "Activated"  # how an activation's entry begins: a version's activation history finds them by it
REVIEWED = {Sample.Status.APPROVED: "Approved", Sample.Status.REJECTED: "Rejected", Sample.Status.NEW: "Unreviewed"}


def changes_record(request: HttpRequest, objects: QuerySet | list[Model], message: str) -> None:
    """One CHANGE entry per object in the admin's history, by the signed-in staff member, in one INSERT."""
    LogEntry.objects.log_actions(user_id=request.user.pk, queryset=objects, action_flag=CHANGE,
                                 change_message=message)


def review_said(before: Sample, after: Sample) -> str:
    """What a review did to one sample, as its history says it ("Relabelled 4 → 9 and approved"); "" if nothing."""
    said = [f"Relabelled {before.label} → {after.label}"] if after.label != before.label else []
    if after.status != before.status:
        status = REVIEWED[after.status]
        said.append(status.lower() if said else status)
    return " and ".join(said)


class PermissionCheckedActions:
    """Mixed into a ModelAdmin: a POST naming an action the staff member is not offered (approve or activate for
    view-only staff, whose `@admin.action(permissions=["change"])` actions are hidden) is refused with 403, where
    Django would redisplay the list, or ignore the POST when no action at all is offered."""

    def changelist_view(self, request: HttpRequest, extra_context=None):
        offered = self.get_actions(request)
        if request.method == "POST" and any(name and name not in offered for name in request.POST.getlist("action")):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)


@dataclass(frozen=True)
class Activation:
    when: datetime
    by: str
    until: datetime | None  # the next activation of another version; None while none followed


def activations(version: ModelVersion) -> list[Activation]:
    """Each activation of ``version`` in the admin's history, most recent first: when, by whom, and until when it
    served everyone. Activations outside the admin (``train_shared --activate``) end a period all the same: the
    other versions' ``activated`` times count too."""
    kind = ContentType.objects.get_for_model(ModelVersion)
    entries = LogEntry.objects.filter(content_type=kind, action_flag=CHANGE, change_message__startswith=ACTIVATED)
    mine = list(entries.filter(object_id=str(version.pk)).select_related("user").order_by("action_time"))
    if not mine:
        return []
    since, other = mine[0].action_time, entries.exclude(object_id=str(version.pk))
    ends = sorted([*other.filter(action_time__gt=since).values_list("action_time", flat=True),
                   *ModelVersion.objects.filter(activated__gt=since).exclude(pk=version.pk)
                   .values_list("activated", flat=True)])
    return [Activation(entry.action_time, entry.user.get_username(),
                       next((end for end in ends if end > entry.action_time), None)) for entry in reversed(mine)]
