"""The real background worker: a separate `manage.py training_worker` process against the test database."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from recognizer.models import ModelVersion
from recognizer.tests.drawings import as_upload, canvas_png
from training.models import TrainingRun

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def database_queue(settings):
    if connection.vendor == "sqlite":
        assert settings.DATABASES["default"]["NAME"] != ":memory:"
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.FINE_TUNE = {"epochs": 2, "replay": 1000}
    settings.FINE_TUNE_VALIDATION_LIMIT = 1000


def worker_environment(**extra: str) -> dict[str, str]:
    """The environment of a real `manage.py training_worker` process on the test database, media and models.
    Fine-tune settings travel in each run's params; the worker reads only the sizes of the MNIST features it
    keeps (replay and validation)."""
    db = settings.DATABASES["default"]
    url = (f"sqlite:///{db['NAME']}" if connection.vendor == "sqlite" else os.environ["DATABASE_URL"].rsplit("/", 1)[0]
           + "/" + db["NAME"])
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "mnistsite.settings", "DATABASE_URL": url,
            "MODEL_DIR": str(settings.MODEL_DIR), "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "TASKS_BACKEND": "django_tasks_db.DatabaseBackend", "FINE_TUNE_VALIDATION_LIMIT": "1000",
            "GATE_NONDIGITS_PER_FAMILY": "1", "FINE_TUNE_NONDIGITS_PER_FAMILY": "1",
            "FINE_TUNE_REPLAY": "1000", **extra}


def worker(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "manage.py", "training_worker", "--interval", "0.2", *args], cwd=ROOT,
                            env=worker_environment(TRAINING_RESTART_STALE_SECONDS="3"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def start_job(client: Client) -> int:
    for i in range(4):
        response = client.post("/api/samples", {"file": as_upload(canvas_png(width=12 + 2 * i)), "label": "7"})
        assert response.status_code == 201
    response = client.post("/api/train")
    assert response.status_code == 202, response.content
    return response.json()["job"]


def wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise TimeoutError("condition not met in time")


def test_a_worker_killed_mid_run_fails_the_run_and_the_next_run_works(database_queue, active_model_version, settings):
    settings.FINE_TUNE = {"epochs": 400, "replay": 1000}  # a run long enough to be killed in the middle
    client = Client()
    run_id = start_job(client)
    settings.FINE_TUNE = {"epochs": 2, "replay": 1000}
    assert TrainingRun.objects.get(pk=run_id).status == "queued"  # queued, not run inside the request
    process = worker()
    try:
        wait_until(lambda: TrainingRun.objects.get(pk=run_id).progress > 0.15, timeout=180)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert TrainingRun.objects.get(pk=run_id).status == "running"
    time.sleep(4)  # longer than TRAINING_RESTART_STALE_SECONDS: the dead worker's heartbeat is stale

    restarted = worker("--batch")
    output, _ = restarted.communicate(timeout=60)
    run = TrainingRun.objects.get(pk=run_id)
    assert run.status == "failed" and "stopped unexpectedly" in run.error, output
    assert ModelVersion.objects.get(is_active=True) == active_model_version
    queued = DBTaskResult.objects.get(args_kwargs__kwargs__run_id=run_id)  # the queue's record is closed too
    assert queued.status == "FAILED" and queued.exception_class_path == "training.exceptions.WorkerStopped"

    next_run = start_job(client)
    again = worker("--batch")
    output, _ = again.communicate(timeout=240)
    assert again.returncode == 0, output
    status = client.get(f"/api/train/{next_run}").json()
    assert status["status"] in {"succeeded", "rejected"}, (status, output)
    assert status["progress"] == 1.0 and len(status["history"]) == 2
    assert ModelVersion.objects.get(is_active=True) == active_model_version


def wait_for(*processes: subprocess.Popen, timeout: float = 240) -> None:
    for process in processes:
        output, _ = process.communicate(timeout=timeout)
        assert process.returncode == 0, output


def test_poisoning_drill_a_session_that_labels_its_sevens_as_1_changes_no_one_elses_answers(
    database_queue, active_model_version
):
    sevens = [canvas_png(width=10 + 2 * i, box=(0.2 + 0.03 * i, 0.15, 0.75, 0.85)) for i in range(6)]
    others = [canvas_png(path=[(0.5, 0.05), (0.5, 0.95)], width=14), canvas_png(width=20, path=[
        (0.2, 0.2), (0.8, 0.2), (0.8, 0.5), (0.2, 0.5), (0.2, 0.9), (0.8, 0.9)])]
    bystander = Client()
    assert bystander.post("/api/samples", {"file": as_upload(sevens[0]), "label": "7"}).status_code == 201

    def answers() -> list[bytes]:
        return [c.post("/api/predict", {"file": as_upload(image)}).content
                for c in (bystander, Client()) for image in sevens + others]

    before = answers()
    poisoner = Client()
    for i in range(24):
        drawing = canvas_png(width=10 + i % 8, box=(0.2 + 0.01 * i, 0.15, 0.75, 0.85))
        assert poisoner.post("/api/samples", {"file": as_upload(drawing), "label": "1"}).status_code == 201
    job = poisoner.post("/api/train").json()["job"]
    wait_for(worker("--batch"))
    status = poisoner.get(f"/api/train/{job}").json()
    assert status["status"] in {"succeeded", "rejected"}, status

    assert answers() == before  # byte for byte, with and without a session of their own
    assert ModelVersion.objects.get(is_active=True) == active_model_version
    assert list(ModelVersion.objects.shared()) == [active_model_version]
    if status["status"] == "succeeded":  # its own model may read them as 1: that is its own business
        answer = poisoner.post("/api/predict", {"file": as_upload(sevens[0])}).json()
        assert answer["personal"] and answer["model_version"] == status["model_version"]


def test_several_workers_train_different_sessions_at_the_same_time(database_queue, active_model_version, settings):
    settings.FINE_TUNE = {"epochs": 300, "replay": 1000}  # long enough to overlap
    clients = [Client(), Client()]
    jobs = [start_job(client) for client in clients]
    workers = [worker("--batch"), worker("--batch")]
    try:
        wait_until(lambda: TrainingRun.objects.filter(pk__in=jobs, status="running").count() == 2, timeout=120)
    finally:
        wait_for(*workers)
    finished = [client.get(f"/api/train/{job}").json() for client, job in zip(clients, jobs)]
    # Both ran to the end (300 epochs on four drawings may well overfit past the gate: either verdict will do).
    assert all(run["status"] in {"succeeded", "rejected"} and run["progress"] == 1.0 for run in finished), finished


def test_the_worker_scores_new_samples_in_a_batch_not_the_request(database_queue, active_model_version, settings):
    from recognizer.models import Sample

    settings.SCORE_DELAY_SECONDS = 0  # due at once: the batch worker below takes it before the queue is empty
    client = Client()
    for label in ("7", "7", "3"):  # the drawing is a 7 each time: the last label is wrong
        assert client.post("/api/samples", {"file": as_upload(canvas_png()), "label": label}).status_code == 201
    assert not Sample.objects.filter(scored_by__isnull=False).exists()  # queued, not scored inside the request
    output, _ = worker("--batch").communicate(timeout=120)
    scored = {s.label: s for s in Sample.objects.all()}
    assert all(s.scored_by_id == active_model_version.pk for s in Sample.objects.all()), output
    assert scored[3].suspicion > 0.9 > 0.1 > scored[7].suspicion


def test_a_few_samples_saved_from_two_sessions_at_once_are_all_scored_within_30_seconds(
    database_queue, active_model_version, settings
):
    from recognizer.models import Sample

    assert settings.SCORE_DELAY_SECONDS == 5  # the default: saves are scored a few seconds later, together
    process = worker()  # a running worker, as on the site (not --batch: the scoring task is due later)
    try:
        wait_until(lambda: DBTaskResult.objects.filter(task_path="training.tasks.housekeeping")
                   .exclude(finished_at=None).exists(), timeout=120)  # started, and polling the queue

        answers = []

        def save(labels: str) -> None:  # one session, in a thread of its own
            client = Client()
            try:
                for label in labels:
                    answers.append(client.post("/api/samples", {"file": as_upload(canvas_png()), "label": label}))
            finally:
                connection.close()

        sessions = [threading.Thread(target=save, args=(labels,)) for labels in ("73", "7")]
        for session in sessions:
            session.start()
        for session in sessions:
            session.join()
        assert [answer.status_code for answer in answers] == [201, 201, 201]
        wait_until(lambda: not Sample.objects.filter(scored_by=None).exists(), timeout=30)  # from the last save
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    scored = sorted((s.label, s.scored_by_id, s.suspicion > 0.5) for s in Sample.objects.all())
    assert scored == [(3, active_model_version.pk, True), *[(7, active_model_version.pk, False)] * 2], output


def test_the_worker_takes_scoring_and_staff_work_first_then_everyones_first_run_before_anyones_second(
    database_queue, active_model_version, settings
):
    from recognizer.models import Sample
    from recognizer.tasks import scoring_enqueue
    from training.services import training_run_create_shared

    settings.SHARED_MAX_SESSION_SHARE = 1.0  # one session's approved sample makes a shared run here
    a_runs = [start_job(Client(REMOTE_ADDR="203.0.113.7")) for _ in range(3)]  # three sessions, one address
    b_run = start_job(Client(REMOTE_ADDR="198.51.100.20"))
    Sample.objects.filter(pk=Sample.objects.first().pk).update(status="approved")
    shared = training_run_create_shared(requested_by="staff")
    scoring_enqueue()
    Sample.objects.all().delete()  # every run then fails at once, right after the worker takes it: quick
    output, _ = worker("--batch").communicate(timeout=120)
    taken = [task.task_name if task.task_name != "fine_tune_run" else task.args_kwargs["kwargs"]["run_id"]
             for task in DBTaskResult.objects.exclude(started_at=None).order_by("started_at")]
    assert taken == ["samples_score_run", "housekeeping", shared.pk, a_runs[0], b_run, a_runs[1], a_runs[2]], output
    assert list(TrainingRun.objects.order_by("started").values_list("pk", flat=True)) == taken[2:]
    assert DBTaskResult.objects.get(task_path="training.tasks.housekeeping", status="READY").run_after > timezone.now()
