"""The worker's housekeeping: old finished runs and task rows go, open and recent ones stay, a run whose model is
still in use stays, and one housekeeping task is always waiting on the database queue."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from recognizer.models import ModelVersion, PersonalModel
from recognizer.versions import model_version_create, personal_model_promote
from recognizer.visitors import Visitor
from training.housekeeping import housekeeping_run
from training.tasks import housekeeping_schedule
from training.models import TrainingRun

LIVE, ENDED = "l" * 32, "e" * 32
OLD, RECENT = 31, 29  # days, either side of TRAINING_RUNS_KEEP_DAYS


def run(status: str, days_ago: int, *, session_key: str | None = LIVE, **fields) -> TrainingRun:
    kind = "personal" if session_key else "shared"
    made = TrainingRun.objects.create(kind=kind, session_key=session_key, status=status, **fields)
    when = timezone.now() - timedelta(days=days_ago)
    finished = None if status in TrainingRun.OPEN else when
    TrainingRun.objects.filter(pk=made.pk).update(created=when, finished=finished)
    return made


def task_row(status: str, days_ago: int) -> DBTaskResult:
    when = timezone.now() - timedelta(days=days_ago)
    return DBTaskResult.objects.create(args_kwargs={"args": [], "kwargs": {"run_id": 0}}, status=status,
                                       task_path="training.tasks.fine_tune_run", backend_name="default",
                                       started_at=when if status != "READY" else None,
                                       finished_at=when if status in {"SUCCESSFUL", "FAILED"} else None)


@pytest.fixture
def live_session(db):
    Session.objects.create(session_key=LIVE, session_data="", expire_date=timezone.now() + timedelta(days=1))


def test_old_finished_runs_and_task_rows_go_recent_and_open_ones_stay(live_session, settings):
    assert settings.TRAINING_RUNS_KEEP_DAYS == 30
    old = [run(status, OLD, session_key=f"{i}" * 32) for i, status in enumerate(
        ["succeeded", "rejected", "failed", "cancelled"])]
    stays = [run("succeeded", RECENT), run("queued", 40, session_key="q" * 32), run("running", 40, session_key="r" * 32)]
    old_rows = [task_row("SUCCESSFUL", OLD), task_row("FAILED", OLD)]
    rows_kept = [task_row("SUCCESSFUL", RECENT), task_row("READY", 40), task_row("RUNNING", 40)]
    counts = housekeeping_run()
    assert counts["training_runs"] == 4 and counts["task_results"] == 2
    assert set(TrainingRun.objects.values_list("pk", flat=True)) == {r.pk for r in stays}
    assert set(DBTaskResult.objects.values_list("pk", flat=True)) == {r.pk for r in rows_kept}
    assert not TrainingRun.objects.filter(pk__in=[r.pk for r in old]).exists()
    assert not DBTaskResult.objects.filter(pk__in=[r.pk for r in old_rows]).exists()


def test_a_run_whose_model_is_in_use_stays_and_pruning_a_run_never_breaks_its_version(
    live_session, active_model_version, base_network, django_capture_on_commit_callbacks
):
    def version(owner: str | None) -> ModelVersion:
        return model_version_create(network=base_network, name_prefix="v", owner=Visitor(owner) if owner else None,
                                    parent=active_model_version)

    serving, candidate, shared = version(LIVE), version(LIVE), version(None)
    personal_model_promote(visitor=Visitor(LIVE), version=serving)
    in_use = [run("succeeded", OLD, result=serving), run("succeeded", OLD, session_key=None, result=shared),
              run("succeeded", OLD, session_key=None, result=active_model_version)]
    unused = run("rejected", OLD, session_key="o" * 32, result=candidate)
    ended_model = version(ENDED)
    personal_model_promote(visitor=Visitor(ENDED), version=ended_model)
    ended_run = run("succeeded", OLD, session_key=ENDED, result=ended_model)
    with django_capture_on_commit_callbacks(execute=True):
        counts = housekeeping_run()
    assert counts["training_runs"] == 2 and counts["personal_models_of_ended_sessions"] == 1
    assert set(TrainingRun.objects.values_list("pk", flat=True)) == {r.pk for r in in_use}
    assert not TrainingRun.objects.filter(pk__in=[unused.pk, ended_run.pk]).exists()
    candidate.refresh_from_db()  # the version outlives the run that made it
    assert candidate.weights_path.exists() and candidate.produced_by.count() == 0
    assert PersonalModel.objects.get(session_key=LIVE).version == serving and serving.weights_path.exists()
    assert not ModelVersion.objects.filter(pk=ended_model.pk).exists()  # its session ended, then its run went


@pytest.fixture
def database_queue(settings, db):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def waiting() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path="training.tasks.housekeeping", status="READY"))


def test_one_housekeeping_task_waits_and_a_starting_worker_brings_it_forward(database_queue, settings):
    housekeeping_schedule(delay=settings.HOUSEKEEPING_SECONDS)
    housekeeping_schedule(delay=settings.HOUSEKEEPING_SECONDS)  # a second worker, or the next task: still one
    [later] = waiting()
    assert timedelta(seconds=3590) < later.run_after - timezone.now() <= timedelta(seconds=3600)
    assert not DBTaskResult.objects.ready().exists()
    housekeeping_schedule(delay=0)  # what a worker does when it starts
    [now] = waiting()
    assert now.pk == later.pk and list(DBTaskResult.objects.ready()) == [now]
    assert now.priority == 50  # the staff's: before any visitor's run


def test_each_housekeeping_task_queues_the_next_even_when_it_fails(database_queue, settings, monkeypatch):
    from training import tasks

    housekeeping_schedule(delay=0)
    [due] = waiting()
    due.claim("worker")  # a worker took it
    monkeypatch.setattr(tasks, "housekeeping_run", lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        tasks.housekeeping.call()
    [following] = waiting()
    assert following.run_after - timezone.now() > timedelta(seconds=settings.HOUSEKEEPING_SECONDS - 10)


def test_without_the_database_queue_nothing_is_scheduled(db):
    housekeeping_schedule(delay=0)  # the tests' Immediate backend would run it at once, and it would queue itself
    assert not DBTaskResult.objects.exists()
