"""Fine-tune jobs through the API and the services, with real training on real MNIST (kept small and fast)."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from recognizer.inference import ACTIVE_ID_TTL_SECONDS
from recognizer.models import ModelVersion, Sample
from recognizer.tests.drawings import as_upload, canvas_png
from training.exceptions import NoUsableSamples, SampleUnreadable
from training.models import TrainingRun
from training.services import training_run_execute, training_runs_fail_stale

# A "1" written as a flag with a long base: a style the base model rarely sees.
FLAG_ONE = [(0.2, 0.25), (0.55, 0.0), (0.55, 1.0), (0.2, 1.0), (0.9, 1.0)]


@pytest.fixture(autouse=True)
def quick_training(settings):
    settings.FINE_TUNE = {"epochs": 2, "min_replay": 1500}
    settings.FINE_TUNE_EVAL_LIMIT = 2000


@pytest.fixture
def client(active_model_version):
    return Client()


def save_samples(client: Client, count: int, label: int, **drawing) -> None:
    for i in range(count):
        shift = (i % 5) * 0.02
        box = (0.25 + shift, 0.15 + shift, 0.7 + shift, 0.8 + shift)
        response = client.post("/api/samples", {"file": as_upload(canvas_png(box=box, width=14 + i % 4, **drawing)),
                                                "label": str(label)})
        assert response.status_code == 201, response.content


def start(client: Client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the Immediate backend runs the job on commit
        return client.post("/api/train")


def test_it_refuses_to_train_without_samples(client):
    response = client.post("/api/train")
    assert response.status_code == 400
    assert "save a few labelled drawings" in response.json()["error"]


@pytest.mark.slow
def test_a_job_trains_gates_and_activates_a_new_version(client, active_model_version,
                                                        django_capture_on_commit_callbacks):
    save_samples(client, 8, 1, path=FLAG_ONE)
    response = start(client, django_capture_on_commit_callbacks)
    assert response.status_code == 202
    job = response.json()
    assert job["status_url"] == f"/api/train/{job['job']}"

    status = client.get(job["status_url"]).json()
    assert status["status"] == "succeeded", status
    assert status["progress"] == 1.0 and status["error"] is None
    assert [e["epoch"] for e in status["history"]] == [1, 2]
    assert all({"train_loss", "train_accuracy"} <= set(e) for e in status["history"])
    after, before = status["metrics"]["after"], status["metrics"]["before"]
    assert after["user_accuracy"] >= before["user_accuracy"]
    assert after["mnist_accuracy"] >= before["mnist_accuracy"] - 0.005

    new = ModelVersion.objects.get(pk=status["model_version"])
    assert new.is_active and new.parent == active_model_version
    assert new.weights_path.exists()
    run = TrainingRun.objects.get(pk=job["job"])
    assert set(run.samples.all()) == set(Sample.objects.all())
    # Success is reported only once every web process, re-reading the active version, serves the new one.
    assert run.finished - new.activated >= timedelta(seconds=ACTIVE_ID_TTL_SECONDS)
    prediction = client.post("/api/predict", {"file": as_upload(canvas_png(path=FLAG_ONE))}).json()
    assert prediction["model_version"] == new.pk  # the page's predictions use the new version at once


@pytest.mark.slow
def test_a_poisoned_job_is_rejected_and_the_active_version_stays(client, active_model_version,
                                                                 django_capture_on_commit_callbacks):
    save_samples(client, 40, 1)  # forty sevens, all labelled "1"
    job = start(client, django_capture_on_commit_callbacks).json()
    status = client.get(job["status_url"]).json()
    assert status["status"] == "rejected", status
    assert "MNIST accuracy fell" in status["metrics"]["gate"]
    assert ModelVersion.objects.get(is_active=True) == active_model_version
    candidate = ModelVersion.objects.get(pk=status["model_version"])
    assert not candidate.is_active and candidate.weights_path.exists()  # kept, inactive, for inspection


def test_a_second_job_while_one_is_open_answers_409_and_says_which(client, tasks_not_run):
    save_samples(client, 1, 7)
    first = client.post("/api/train").json()["job"]
    response = Client().post("/api/train")
    assert response.status_code == 409
    assert f"Training run {first} is already queued" in response.json()["error"]


def test_a_corrupt_sample_fails_the_run_with_a_readable_message(client, active_model_version, tasks_not_run,
                                                                django_capture_on_commit_callbacks):
    save_samples(client, 2, 7)
    sample = Sample.objects.first()
    with default_storage.open(sample.digit.name, "wb") as handle:
        handle.write(b"this is not a png")
    run_id = client.post("/api/train").json()["job"]
    with pytest.raises(SampleUnreadable):
        training_run_execute(run_id=run_id)
    run = TrainingRun.objects.get(pk=run_id)
    assert run.status == "failed"
    assert f"Sample {sample.pk}'s image cannot be read" in run.error
    assert client.get(f"/api/train/{run_id}").json()["error"] == run.error
    assert ModelVersion.objects.get(is_active=True) == active_model_version
    assert ModelVersion.objects.count() == 1


def test_a_run_whose_worker_went_silent_is_marked_failed(client, tasks_not_run):
    save_samples(client, 1, 7)
    run_id = client.post("/api/train").json()["job"]
    TrainingRun.objects.filter(pk=run_id).update(status="running", heartbeat=timezone.now() - timedelta(minutes=5))
    status = client.get(f"/api/train/{run_id}").json()
    assert status["status"] == "failed" and "stopped unexpectedly" in status["error"]
    assert training_runs_fail_stale() == 0


def test_runs_are_private_to_their_session(client, tasks_not_run):
    save_samples(client, 1, 7)
    run_id = client.post("/api/train").json()["job"]
    assert Client().get(f"/api/train/{run_id}").status_code == 404
    assert client.get("/api/train").json()["run"]["id"] == run_id


def test_a_run_whose_samples_were_all_deleted_fails_clearly(client, tasks_not_run):
    save_samples(client, 1, 7)
    run_id = client.post("/api/train").json()["job"]
    client.delete("/api/samples")
    with pytest.raises(NoUsableSamples):
        training_run_execute(run_id=run_id)
    status = client.get(f"/api/train/{run_id}").json()
    assert status["status"] == "failed" and "deleted before it started" in status["error"]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_train_requests_queue_exactly_one_run(active_model_version, tasks_not_run, run_at_once):
    clients = [Client() for _ in range(6)]
    for client in clients:
        save_samples(client, 1, 7)
    statuses = []
    run_at_once(lambda client: statuses.append(client.post("/api/train").status_code), [(c,) for c in clients])
    assert sorted(statuses) == [202] + [409] * 5  # the active version's row lock serialises the check
    assert TrainingRun.objects.count() == 1


def test_the_task_path_named_in_services_is_the_fine_tune_tasks():
    from training.services import FINE_TUNE_TASK_PATH
    from training.tasks import fine_tune_run

    assert fine_tune_run.module_path == FINE_TUNE_TASK_PATH
