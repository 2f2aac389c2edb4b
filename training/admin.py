from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from recognizer.exceptions import NoActiveModel

from .admin_figures import history_html, metrics_html, params_html, progress_html, run_live_json
from .exceptions import TrainingRefused
from .models import TrainingRun
from .services import shared_run_plan, training_run_create_shared


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "progress_percent", "parent", "result", "sample_count", "short_session",
                    "requested_by", "created", "finished"]
    list_filter = ["kind", "status", "created"]
    search_fields = ["session_key", "requested_by"]
    list_select_related = ["parent", "result"]
    readonly_fields = ["kind", "session_key", "requested_by", "status", "progress_shown", "parent", "result",
                       "history_shown", "metrics_shown", "params_shown", "error", "created", "started", "finished",
                       "heartbeat", "samples", "priority"]
    # Shown read-only, as figures, by the *_shown fields; the client network is a keyed hash, of no use to staff.
    exclude = ["progress", "history", "metrics", "params", "network"]

    class Media:
        js = ["recognizer/run_live.js"]  # a running run's page follows it (the admin_figures parts, polled)

    def has_add_permission(self, request) -> bool:
        return False  # personal runs start from the page or POST /api/train; shared ones from train_shared below

    def get_urls(self):
        shared = path("train-shared/", self.admin_site.admin_view(self.train_shared_view), name="training_train_shared")
        live = path("<path:object_id>/live/", self.admin_site.admin_view(self.live_view),
                    name="training_trainingrun_live")
        return [shared, live, *super().get_urls()]

    def live_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        """A run's status and the changing parts of its page, as JSON, for staff who may see it."""
        run = self.get_object(request, object_id)
        if run is None or not self.has_view_permission(request, run):
            return JsonResponse({"error": "No such training run."}, status=404)
        return JsonResponse(run_live_json(run))

    def may_train_shared(self, request: HttpRequest) -> bool:
        """Starting a shared run takes the change permission on training runs and on model versions."""
        return self.has_change_permission(request) and request.user.has_perm("recognizer.change_modelversion")

    def changelist_view(self, request: HttpRequest, extra_context=None):
        return super().changelist_view(request, {"may_train_shared": self.may_train_shared(request),
                                                 **(extra_context or {})})

    def train_shared_view(self, request: HttpRequest) -> HttpResponse:
        """Fine-tune the shared model from approved samples: GET shows what it would train on, POST starts it."""
        if not self.may_train_shared(request):
            return HttpResponse("Only staff who may change training runs and model versions can train the shared "
                                "model.", status=403)
        if request.method == "POST":
            try:
                with transaction.atomic():  # the run and its record commit together (then it is queued)
                    run = training_run_create_shared(requested_by=request.user.get_username())
                    self.log_addition(request, run, f"Started a shared fine-tune of {run.parent} on "
                                      f"{run.samples.count()} approved samples")
            except (TrainingRefused, NoActiveModel) as exc:
                self.message_user(request, f"Not started: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"Started shared training run {run.pk}. A candidate that passes the gate "
                                  "waits, inactive, for you to activate it under Model versions.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:training_trainingrun_change", args=[run.pk]))
        return TemplateResponse(request, "admin/training/trainingrun/train_shared.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": "Fine-tune the shared model",
            **shared_run_plan(),
        })

    @admin.display(description="progress")
    def progress_percent(self, run: TrainingRun) -> str:
        return f"{run.progress:.0%}"

    @admin.display(description="progress")
    def progress_shown(self, run: TrainingRun) -> str:
        return progress_html(run)

    @admin.display(description="per epoch")
    def history_shown(self, run: TrainingRun) -> str:
        return history_html(run)

    @admin.display(description="results")
    def metrics_shown(self, run: TrainingRun) -> str:
        return metrics_html(run)

    @admin.display(description="settings")
    def params_shown(self, run: TrainingRun) -> str:
        return params_html(run)

    @admin.display(description="samples")
    def sample_count(self, run: TrainingRun) -> int:
        return run.samples.count()

    @admin.display(description="session")
    def short_session(self, run: TrainingRun) -> str:
        return (run.session_key or "")[:8] or "—"
