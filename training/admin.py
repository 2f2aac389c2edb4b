from django.contrib import admin

from .models import TrainingRun


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "progress_percent", "parent", "result", "sample_count", "short_session",
                    "created", "finished"]
    list_filter = ["status", "created"]
    search_fields = ["session_key"]
    list_select_related = ["parent", "result"]
    readonly_fields = ["session_key", "status", "progress", "parent", "result", "history", "metrics", "params",
                       "error", "created", "started", "finished", "heartbeat", "samples"]

    def has_add_permission(self, request) -> bool:
        return False  # runs start from the page or POST /api/train

    @admin.display(description="progress")
    def progress_percent(self, run: TrainingRun) -> str:
        return f"{run.progress:.0%}"

    @admin.display(description="samples")
    def sample_count(self, run: TrainingRun) -> int:
        return run.samples.count()

    @admin.display(description="session")
    def short_session(self, run: TrainingRun) -> str:
        return run.session_key[:8]
