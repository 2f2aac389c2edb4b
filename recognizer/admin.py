from django.conf import settings
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils import timezone
from django.utils.formats import date_format, localize, time_format
from django.utils.html import format_html, format_html_join

from .admin_figures import percent, version_figures_html
from .admin_staff import ACTIVATED, REVIEWED, PermissionCheckedActions, activations, changes_record, review_said
from .exceptions import InvalidModelVersion
from .forms import ReviewDecisionForm, ThrottledSignInForm
from .models import ModelVersion, Sample
from .review import confusion_on_approved_samples, confusion_table, review_progress, review_queue
from .services import (
    sample_review_decide, samples_export_zip, samples_relabel, samples_review, unreviewed_samples_count,
)
from .versions import active_version, model_version_activate, model_versions_delete

REVIEW_PAGE_SIZE = 50
UNREVIEWED_WARNING_SHARE = 0.9  # of MAX_UNREVIEWED_SAMPLES: staff hear of the ceiling before saves stop
admin.site.login_form = ThrottledSignInForm  # logs and counts failed sign-ins; refuses past RATE_LIMITS["login"]


class DisagreementFilter(admin.SimpleListFilter):
    """Samples the model read as another digit than their label (the list marks them ⚠), or as the label."""
    title = "model's reading"
    parameter_name = "disagreed"

    def lookups(self, request, model_admin):
        return [("yes", "⚠ Another digit than the label"), ("no", "The label")]

    def queryset(self, request, queryset: QuerySet[Sample]) -> QuerySet[Sample]:
        if self.value() == "yes":
            return queryset.filter(predicted__isnull=False).exclude(predicted=F("label"))
        if self.value() == "no":
            return queryset.filter(predicted=F("label"))
        return queryset


def _relabel_action(digit: int):
    @admin.action(description=f"Relabel selected samples as {digit}", permissions=["change"])
    def relabel(modeladmin, request: HttpRequest, queryset: QuerySet[Sample]) -> None:
        with transaction.atomic():  # the history says each sample's old label: one entry per old label
            for old in queryset.exclude(label=digit).order_by().values_list("label", flat=True).distinct():
                changes_record(request, queryset.filter(label=old), f"Relabelled {old} → {digit}")
            changed = samples_relabel(queryset, label=digit)
        modeladmin.message_user(request, f"Relabelled {changed} sample(s) as {digit}.", messages.SUCCESS)

    relabel.__name__ = f"relabel_as_{digit}"
    return relabel


def unreviewed_ceiling_warning() -> tuple[str, int] | None:
    """What staff should know when unreviewed samples near the ceiling past which the site keeps no new drawings
    (recognizer.services._check_room): the words and the message level, or None while there is room."""
    unreviewed, ceiling = unreviewed_samples_count(), settings.MAX_UNREVIEWED_SAMPLES
    if unreviewed >= ceiling:
        return (f"The site has stopped keeping new drawings: {unreviewed:,} of {ceiling:,} unreviewed samples, its "
                "ceiling (MAX_UNREVIEWED_SAMPLES). People can save again once some are reviewed or deleted.",
                messages.ERROR)
    if unreviewed >= UNREVIEWED_WARNING_SHARE * ceiling:
        return (f"{unreviewed:,} of {ceiling:,} unreviewed samples: at {ceiling:,} the site stops keeping new "
                "drawings until some are reviewed or deleted.", messages.WARNING)
    return None


@admin.register(Sample)
class SampleAdmin(PermissionCheckedActions, admin.ModelAdmin):
    # Few, narrow columns: the list fits a 1280 px screen beside the admin's menu and the filters.
    list_display = ["id", "thumbnails", "reading", "suspicion_shown", "status", "saved"]
    list_display_links = ["id", "thumbnails"]
    list_filter = ["label", "status", "verdict", DisagreementFilter, ("scored_digit", admin.AllValuesFieldListFilter),
                   ("scored_by", admin.RelatedOnlyFieldListFilter), "created"]
    search_fields = ["session_key"]
    date_hierarchy = "created"
    list_select_related = ["model_version"]
    list_per_page = 50
    fields = ["drawing_large", "digit_large", "label", "status", "predicted", "confidence", "verdict",
              "not_a_digit_score", "model_version", "suspicion", "scored_digit", "scored_confidence", "scored_by",
              "session_key", "created", "drawing", "digit"]
    readonly_fields = ["drawing_large", "digit_large", "predicted", "confidence", "verdict", "not_a_digit_score",
                       "model_version", "suspicion", "scored_digit", "scored_confidence", "scored_by", "session_key",
                       "created", "drawing", "digit"]
    actions = ["approve", "approve_sessions", "reject", *[_relabel_action(d) for d in range(10)], "export_zip"]

    def has_add_permission(self, request) -> bool:
        return False  # samples come from people drawing, never from the admin

    def get_urls(self):
        queue = path("review/", self.admin_site.admin_view(self.review_queue_view), name="recognizer_sample_review")
        return [queue, *super().get_urls()]

    def review_queue_view(self, request: HttpRequest) -> HttpResponse:
        """Unreviewed samples, the most suspicious first, each decided with one click (a POST, then back here).
        View-only staff see the queue without its buttons."""
        if not self.has_view_permission(request):
            return HttpResponse("Only staff who may see samples can see the review queue.", status=403)
        if request.method == "POST" and not self.has_change_permission(request):
            return HttpResponse("Only staff who may change samples can review them.", status=403)
        if request.method == "POST":
            done, message = self._review_decide(request, ReviewDecisionForm(request.POST))
            if request.headers.get("Accept") == "application/json":  # the queue's script: no reload, next row
                reviewed, total = review_progress()
                return JsonResponse({"done": done, "message": message, "reviewed": reviewed, "total": total},
                                    status=200 if done else 400)
            self.message_user(request, message, messages.SUCCESS if done else messages.ERROR)
            return HttpResponseRedirect(f"{reverse('admin:recognizer_sample_review')}?{request.GET.urlencode()}")
        self._warn_near_the_ceiling(request)
        page = Paginator(review_queue().select_related("scored_by"), REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
        reviewed, total = review_progress()
        return TemplateResponse(request, "admin/recognizer/sample/review_queue.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": "Review queue",
            "page": page, "reviewed": reviewed, "total": total, "can_decide": self.has_change_permission(request),
            "unscored": Sample.objects.filter(suspicion__isnull=True, status=Sample.Status.NEW).count(),
        })

    def changelist_view(self, request: HttpRequest, extra_context=None):
        self._warn_near_the_ceiling(request)
        return super().changelist_view(request, extra_context)

    def _warn_near_the_ceiling(self, request: HttpRequest) -> None:
        """Say why saves are (or soon will be) refused: too many samples wait for review."""
        if request.method == "GET" and (warning := unreviewed_ceiling_warning()):
            self.message_user(request, *warning)

    def _review_decide(self, request: HttpRequest, form: ReviewDecisionForm) -> tuple[bool, str]:
        """Apply one decision of the review queue, on record; whether it was done, and what happened, in words."""
        sample = Sample.objects.filter(pk=form.cleaned_data["sample"]).first() if form.is_valid() else None
        if sample is None:
            problem = next(iter(form.errors.values()), ["That sample no longer exists."])[0]
            return False, f"Nothing changed: {problem}"
        with transaction.atomic():
            said = sample_review_decide(sample=sample, decision=form.cleaned_data["decision"],
                                        label=form.cleaned_data["label"])
            after = Sample.objects.get(pk=sample.pk)
            if change := review_said(sample, after):
                self.log_change(request, after, change)
        return True, said

    @admin.display(description="drawing, 28×28")
    def thumbnails(self, sample: Sample) -> str:
        return format_html('<span class="sample-thumbs"><img src="{}" alt="drawing" width="40" height="40" '
                           'class="sample-thumb"><img src="{}" alt="28×28 input" width="40" height="40" '
                           'class="sample-digit"></span>', sample.drawing.url, sample.digit.url)

    @admin.display(description="drawing")
    def drawing_large(self, sample: Sample) -> str:
        return format_html('<img src="{}" alt="drawing" width="280" class="sample-thumb">', sample.drawing.url)

    @admin.display(description="what the network saw (28×28)")
    def digit_large(self, sample: Sample) -> str:
        return format_html('<img src="{}" alt="28×28 input" width="168" height="168" class="sample-digit">',
                           sample.digit.url)

    @admin.display(description="label, model read", ordering="label")
    def reading(self, sample: Sample) -> str:
        """The label, large; under it what the model read and how sure it was, marked ⚠ only where it read another
        digit; and its verdict where that is not a plain "digit"."""
        if sample.predicted is None:
            read = format_html('<span class="reading__read">not read</span>')
        else:
            read = format_html('<span class="reading__read{}">{}read {}, {}</span>',
                               " reading__read--disagrees" if sample.model_disagreed else "",
                               "⚠ " if sample.model_disagreed else "", sample.predicted,
                               "—" if sample.confidence is None else f"{sample.confidence:.1%}")
        plain_digit = sample.verdict in ("", Sample.Verdict.DIGIT)
        verdict = "" if plain_digit else format_html('<span class="verdict verdict--{}">{}</span>', sample.verdict,
                                                     sample.get_verdict_display())
        return format_html('<span class="reading"><strong class="reading__label"><span class="visually-hidden">'
                           'labelled </span>{}</strong>{}{}</span>', sample.label, read, verdict)

    @admin.display(description="saved, session", ordering="created")
    def saved(self, sample: Sample) -> str:
        when = timezone.localtime(sample.created)
        return format_html('<span class="sample-saved">{}, {}<br><small>session {}</small></span>',
                           date_format(when, "j M Y"), time_format(when, "H:i"), self.short_session(sample))

    @admin.display(description="suspicion", ordering=F("suspicion").desc(nulls_last=True))
    def suspicion_shown(self, sample: Sample) -> str:
        """How strongly the shared model of the day disputes the label (recognizer/review.py)."""
        return "—" if sample.suspicion is None else f"{sample.suspicion:.0%}"

    @admin.display(description="session", ordering="session_key")
    def short_session(self, sample: Sample) -> str:
        return (sample.session_key or "ended")[:8]

    @admin.action(description="Approve selected samples", permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Sample]) -> None:
        changed = self._reviewed(request, queryset, Sample.Status.APPROVED)
        self.message_user(request, f"Approved {changed} sample(s).", messages.SUCCESS)

    @admin.action(description="Approve whole sessions of the selected samples", permissions=["change"])
    def approve_sessions(self, request: HttpRequest, queryset: QuerySet[Sample]) -> None:
        sessions = set(queryset.values_list("session_key", flat=True))
        # Samples whose session ended have none: they stand for themselves.
        whole = (Sample.objects.filter(Q(session_key__in=sessions - {None}) | Q(pk__in=queryset.values("pk")))
                 .exclude(status=Sample.Status.REJECTED))
        changed = self._reviewed(request, whole, Sample.Status.APPROVED)
        self.message_user(request, f"Approved {changed} sample(s) from {len(sessions)} session(s).", messages.SUCCESS)

    @admin.action(description="Reject selected samples", permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet[Sample]) -> None:
        changed = self._reviewed(request, queryset, Sample.Status.REJECTED)
        self.message_user(request, f"Rejected {changed} sample(s).", messages.SUCCESS)

    @staticmethod
    def _reviewed(request: HttpRequest, samples: QuerySet[Sample], status: str) -> int:
        """Approve or reject ``samples``, each one that changes on record; how many changed."""
        with transaction.atomic():
            changes_record(request, samples.exclude(status=status), REVIEWED[status])
            return samples_review(samples, status=status)

    @admin.action(description="Export selected samples (zip of PNGs + CSV)")
    def export_zip(self, request: HttpRequest, queryset: QuerySet[Sample]) -> HttpResponse:
        response = HttpResponse(content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="samples-{timezone.now():%Y%m%d-%H%M%S}.zip"'
        samples_export_zip(queryset, response)
        return response


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("shared", "Shared: serves everyone"), ("personal", "Personal: serves one session")]

    def queryset(self, request, queryset: QuerySet[ModelVersion]) -> QuerySet[ModelVersion]:
        if self.value() == "shared":
            return queryset.shared()
        if self.value() == "personal":
            return queryset.filter(kind=ModelVersion.Kind.PERSONAL)
        return queryset


@admin.register(ModelVersion)
class ModelVersionAdmin(PermissionCheckedActions, admin.ModelAdmin):
    list_display = ["__str__", "kind_and_owner", "is_active", "gate", "weights", "size", "accuracy", "validation_accuracy",
                    "nondigit_recall", "parent", "trained_on", "created", "activated"]
    list_filter = [KindFilter, "is_active", "gate_passed", "architecture"]
    search_fields = ["owner", "notes"]
    list_select_related = ["parent"]
    readonly_fields = ["kind_and_owner", "gate", "parent", "weights", "size", "weights_name", "weights_sha256", "architecture",
                       "trained_on", "mnist_confusion", "samples_confusion", "figures", "is_active", "created",
                       "activated", "activation_history"]
    fields = ["notes", *readonly_fields]
    actions = ["activate"]

    @admin.display(description="kind", ordering="kind")
    def kind_and_owner(self, version: ModelVersion) -> str:
        return f"personal · session {version.owner[:8]}" if version.is_personal else "shared"

    @admin.display(description="quality gate", ordering="gate_passed")
    def gate(self, version: ModelVersion) -> str:
        if version.gate_passed is None:
            return "—"
        return f"{'✓ passed' if version.gate_passed else '✗ REJECTED'}: {version.gate_reason}"

    @admin.display(description="confusion on MNIST")
    def mnist_confusion(self, version: ModelVersion) -> str:
        figures = version.figures
        on_test = figures.mnist_test and figures.mnist_test.confusion
        matrix = on_test or (figures.mnist_validation and figures.mnist_validation.confusion)
        return render_to_string("admin/recognizer/modelversion/confusion.html", {
            "table": confusion_table(matrix) if matrix else {"total": 0},
            "caption": f"MNIST {'test' if on_test else 'validation'} set",
            "empty": "Not measured for this version."})

    @admin.display(description="confusion on approved samples")
    def samples_confusion(self, version: ModelVersion) -> str:
        samples = reverse("admin:recognizer_sample_changelist")

        def cell_samples(label: int, reading: int) -> str:  # the sample list's own filters, as its links set them
            return f"{samples}?" + urlencode({"status__exact": Sample.Status.APPROVED, "label": label,
                                              "scored_digit": reading, "scored_by__id__exact": version.pk})

        return render_to_string("admin/recognizer/modelversion/confusion.html", {
            "table": confusion_table(confusion_on_approved_samples(version.pk), cell_samples),
            "caption": "Approved samples, as this version read them when it scored them", "linked": True,
            "empty": "This version has scored no approved samples: the active shared version scores them all."})

    @admin.display(description="metrics")
    def figures(self, version: ModelVersion) -> str:
        return version_figures_html(version.figures)

    @admin.display(description="activation history")
    def activation_history(self, version: ModelVersion) -> str:
        """When it served everyone and who activated it, from the admin's history, most recent first."""
        periods = [(localize(timezone.localtime(a.when)), a.by, localize(timezone.localtime(a.until)) if a.until
                    else "now" if version.is_active else "an activation not on record") for a in activations(version)]
        if not periods:
            return "No activation in the admin's history."
        return format_html("<ol>{}</ol>", format_html_join("", "<li>{}, by {}: served everyone until {}</li>", periods))

    @admin.display(description="weights file")
    @admin.display(description="size", ordering="weights_bytes")
    def size(self, version: ModelVersion) -> str:
        """What its weights take in the store: a personal adapter about 0.1 MB, a whole network 2.5 MB."""
        if version.weights_bytes is None:
            return "—"
        shown = (f"{version.weights_bytes / 2**20:.1f}\u00a0MB" if version.weights_bytes >= 2**20
                 else f"{version.weights_bytes / 1024:.0f}\u00a0KB")
        return f"{shown} (adapter on {version.parent})" if version.is_adapter and version.parent else shown

    def weights(self, version: ModelVersion) -> str:
        problem = version.weights_problem()
        return f"✗ {problem}" if problem else "✓ stored and unchanged"

    def changelist_view(self, request: HttpRequest, extra_context=None):
        self._warn_if_the_active_version_is_broken(request)
        return super().changelist_view(request, extra_context)

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        self._warn_if_the_active_version_is_broken(request)
        return super().change_view(request, object_id, form_url, extra_context)

    def _warn_if_the_active_version_is_broken(self, request: HttpRequest) -> None:
        active = active_version()
        problem = active.weights_problem() if active else None
        if request.method == "GET" and problem:
            self.message_user(request, f"The active model {active} cannot be loaded: {problem}. Web processes keep "
                              "serving the network they already hold, and newly started ones the newest loadable "
                              "version. Activate a working version.", messages.ERROR)

    @admin.display(description="MNIST test accuracy")
    def accuracy(self, version: ModelVersion) -> str:
        return percent(version.figures.mnist_test and version.figures.mnist_test.accuracy)

    @admin.display(description="MNIST validation accuracy")
    def validation_accuracy(self, version: ModelVersion) -> str:
        return percent(version.figures.mnist_validation and version.figures.mnist_validation.accuracy)

    @admin.display(description="non-digits found")
    def nondigit_recall(self, version: ModelVersion) -> str:
        """Of held-out drawings that are no digit, the share this version calls so (— without a detector)."""
        return percent(version.figures.nondigit_recall)

    def has_add_permission(self, request) -> bool:
        return False  # versions come from train_base and fine-tuning, never from a form

    def has_delete_permission(self, request, obj: ModelVersion | None = None) -> bool:
        # Checked per object by the delete page and the bulk delete action alike.
        return super().has_delete_permission(request, obj) and (obj is None or not obj.is_active)

    def delete_model(self, request: HttpRequest, obj: ModelVersion) -> None:
        model_versions_delete(ModelVersion.objects.filter(pk=obj.pk))  # with its weights file

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        model_versions_delete(queryset)

    @admin.action(description="Activate the selected version (use it for everyone's predictions)",
                  permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return None
        version = queryset.get()
        if version.is_rejected and request.POST.get("confirm") != "yes":
            return TemplateResponse(request, "admin/recognizer/modelversion/activate_rejected.html", {
                **self.admin_site.each_context(request), "opts": self.model._meta, "version": version,
                "title": f"Activate {version}, which the quality gate rejected?",
            })
        was = active_version()
        try:
            with transaction.atomic():  # the activation and its record commit together
                version = model_version_activate(version=version)
                before = "none was" if was is None else "it already was" if was.pk == version.pk else f"was {was}"
                self.log_change(request, version, f"{ACTIVATED}: now serving everyone ({before})")
        except InvalidModelVersion as exc:
            self.message_user(request, f"Not activated: {exc}", messages.ERROR)
            return None
        self.message_user(request, f"{version} is now the active model.", messages.SUCCESS)
        return None
