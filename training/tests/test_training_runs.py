"""Personal training runs through the API and the services, with real training on real MNIST (kept small)."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from bench.pen_digits import iter_pen_digits
from recognizer.models import ModelVersion, PersonalModel, Sample
from recognizer.tests.drawings import as_upload, canvas_png
from training.ml.adapt import GateRules, split_holdout
from recognizer.exceptions import SampleUnreadable
from training.exceptions import NoUsableSamples
from training.models import TrainingRun
from training.execution import training_run_execute
from training.services import training_runs_fail_stale

# A "1" written as a flag with a long base: a style the base model rarely sees.
FLAG_ONE = [(0.2, 0.25), (0.55, 0.0), (0.55, 1.0), (0.2, 1.0), (0.9, 1.0)]
# A 2 begun with a small curl, drawn with a pen (bench.pen_digits): the shared detector calls a quarter of them no
# digit at all.
CURLY_TWO = "2 curly start"


@pytest.fixture(autouse=True)
def quick_training(settings):
    settings.FINE_TUNE = {"epochs": 2, "replay": 1000}
    settings.FINE_TUNE_VALIDATION_LIMIT = 2000


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


def predict(client: Client, drawing: bytes) -> dict:
    response = client.post("/api/predict", {"file": as_upload(drawing)})
    assert response.status_code == 200, response.content
    return response.json()


def test_it_refuses_to_train_without_samples(client):
    response = client.post("/api/train")
    assert response.status_code == 400
    assert "save a few labelled drawings" in response.json()["error"]


@pytest.mark.slow
def test_a_run_makes_a_personal_model_that_reads_only_for_its_session(client, active_model_version,
                                                                      django_capture_on_commit_callbacks):
    save_samples(client, 10, 1, path=FLAG_ONE)
    save_samples(client, 5, 7)
    response = start(client, django_capture_on_commit_callbacks)
    assert response.status_code == 202
    job = response.json()
    assert job["status_url"] == f"/api/train/{job['job']}"

    status = client.get(job["status_url"]).json()
    assert status["status"] == "succeeded", status
    assert status["kind"] == "personal" and status["queue_position"] is None
    assert status["progress"] == 1.0 and status["error"] is None
    assert [e["epoch"] for e in status["history"]] == [1, 2]
    metrics = status["metrics"]
    assert metrics["held_out"]["count"] == 3  # a fifth of the ten 1s and of the five 7s, never trained on
    assert set(metrics["held_out"]["per_digit"]) == {"1", "7"}
    assert metrics["trained_on"] == 12
    assert metrics["mnist_validation"]["count"] == 2000
    assert set(metrics["seconds"]) == {"load", "train", "gate", "activate"}

    personal = ModelVersion.objects.get(pk=status["model_version"])
    owner = Sample.objects.first().session_key
    assert personal.owner == owner and not personal.is_active and personal.gate_passed
    assert personal.trained_on == 12 and personal.parent == active_model_version
    assert personal.is_adapter and personal.weights_bytes <= 150 * 1024  # a few weights on the parent's trunk
    assert ModelVersion.objects.get(is_active=True) == active_model_version  # the shared model is untouched
    assert PersonalModel.objects.get(session_key=owner).version == personal

    mine, theirs = predict(client, canvas_png(path=FLAG_ONE)), predict(Client(), canvas_png(path=FLAG_ONE))
    assert (mine["model_version"], mine["personal"]) == (personal.pk, True)
    assert (theirs["model_version"], theirs["personal"]) == (active_model_version.pk, False)
    state = client.get("/api/model").json()
    assert state["serving"] == {"version": personal.pk, "personal": True}
    assert state["personal"]["trained_on"] == 12 and not state["newer_shared"]


@pytest.mark.slow
def test_a_personal_run_teaches_the_detector_that_your_own_digits_are_digits(client,
                                                                           django_capture_on_commit_callbacks):
    stranger = Client()
    drawings = [sample.data for sample in iter_pen_digits(80, 26, [CURLY_TWO])]
    refused = [drawing for drawing in drawings if predict(stranger, drawing)["verdict"] == "not_a_digit"]
    mine, fresh = refused[:10], refused[10:]
    assert len(fresh) >= 5, len(refused)
    for drawing in mine:  # each called no digit, and saved labelled 2: the person knows better
        assert client.post("/api/samples", {"file": as_upload(drawing), "label": "2"}).status_code == 201
    save_samples(client, 5, 7)
    status = client.get(start(client, django_capture_on_commit_callbacks).json()["status_url"]).json()

    assert status["status"] == "succeeded", status
    metrics = status["metrics"]
    held_out = metrics["held_out"]  # two of the 2s, both called no digit before, and a 7 that never was
    assert (held_out["per_digit"]["2"]["count"], held_out["count"]) == (2, 3)
    assert held_out["not_a_digit"] == {"before": pytest.approx(2 / 3), "after": 0.0}, held_out
    recall = metrics["nondigit_recall"]  # held-out non-digits: still found, within the gate's rule
    assert recall["count"] > 0 and recall["after"] >= recall["before"] - GateRules.max_nondigit_drop, recall
    mine_now = [predict(client, drawing) for drawing in fresh]  # more of their 2s, never saved
    assert [answer["verdict"] for answer in mine_now].count("not_a_digit") <= len(fresh) // 5, mine_now
    assert all(answer["personal"] for answer in mine_now)
    assert all(predict(stranger, drawing)["verdict"] == "not_a_digit" for drawing in fresh)  # nobody else's changes


def test_the_page_gives_the_coaching_the_rule_training_holds_drawings_out_by(client, settings):
    settings.HOLDOUT_FRACTION = 0.25
    page = re.sub(r"\s+", " ", client.get("/").content.decode())
    least = int(re.search(r'data-holdout-min-per-digit="(\d+)"', page).group(1))
    assert 'data-holdout-fraction="0.25"' in page
    assert split_holdout([4] * (least - 1), fraction=0.25)[1] == []  # one fewer: nothing kept aside
    assert len(split_holdout([4] * least, fraction=0.25)[1]) == 1
    assert f"at least {least} of a digit, so that 25 % of them can be kept aside" in page


def test_a_second_run_of_the_same_session_gets_409_about_its_own_run_only(client, tasks_not_run):
    others = Client()
    save_samples(others, 1, 3)
    assert others.post("/api/train").status_code == 202
    save_samples(client, 1, 7)
    assert client.post("/api/train").status_code == 202  # another session's open run blocks nobody
    response = client.post("/api/train")
    assert response.status_code == 409
    message = response.json()["error"]
    assert message == "Your training run is already queued; wait for it to finish, then try again."


def test_queued_runs_know_their_place_in_the_queue(client, tasks_not_run):
    clients = [Client() for _ in range(3)]
    jobs = []
    for each in clients:
        save_samples(each, 1, 7)
        jobs.append(each.post("/api/train").json()["job"])
    positions = [each.get(f"/api/train/{job}").json()["queue_position"] for each, job in zip(clients, jobs)]
    assert positions == [1, 2, 3]
    TrainingRun.objects.filter(pk=jobs[0]).update(status="running")
    assert clients[2].get(f"/api/train/{jobs[2]}").json()["queue_position"] == 2


def test_a_corrupt_sample_fails_the_run_with_a_readable_message(client, active_model_version, tasks_not_run):
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


def test_a_run_whose_worker_went_silent_is_marked_failed_and_frees_its_session(client, tasks_not_run):
    save_samples(client, 1, 7)
    run_id = client.post("/api/train").json()["job"]
    TrainingRun.objects.filter(pk=run_id).update(status="running", heartbeat=timezone.now() - timedelta(minutes=5))
    status = client.get(f"/api/train/{run_id}").json()
    assert status["status"] == "failed" and "stopped unexpectedly" in status["error"]
    assert training_runs_fail_stale() == 0
    assert client.post("/api/train").status_code == 202


def test_runs_are_private_to_their_session(client, tasks_not_run):
    save_samples(client, 1, 7)
    run_id = client.post("/api/train").json()["job"]
    assert Client().get(f"/api/train/{run_id}").status_code == 404
    assert Client().get("/api/train").json() == {"run": None}
    assert client.get("/api/train").json()["run"]["id"] == run_id


def test_a_personal_run_trains_on_its_own_unrejected_samples_only(client, tasks_not_run):
    save_samples(client, 3, 7)
    Sample.objects.filter(pk=Sample.objects.first().pk).update(status="rejected")
    others = Client()
    save_samples(others, 2, 1)
    Sample.objects.filter(label=1).update(status="approved")  # approved, but someone else's
    run = TrainingRun.objects.get(pk=client.post("/api/train").json()["job"])
    assert set(run.samples.values_list("label", "status")) == {(7, "new")} and run.samples.count() == 2


def test_a_run_whose_samples_were_all_deleted_fails_clearly(client, tasks_not_run):
    save_samples(client, 1, 7)
    run_id = client.post("/api/train").json()["job"]
    client.delete("/api/samples")
    with pytest.raises(NoUsableSamples):
        training_run_execute(run_id=run_id)
    status = client.get(f"/api/train/{run_id}").json()
    assert status["status"] == "failed" and "deleted before it started" in status["error"]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_requests_queue_one_run_per_session_and_block_no_other(active_model_version, tasks_not_run,
                                                                            run_at_once):
    clients = [Client() for _ in range(3)]
    for client in clients:
        save_samples(client, 1, 7)
    statuses = []
    run_at_once(lambda client: statuses.append(client.post("/api/train").status_code),
                [(c,) for c in clients for _ in range(2)])
    assert sorted(statuses) == [202] * 3 + [409] * 3  # the database allows one open run per session
    assert TrainingRun.objects.count() == 3


def test_training_requests_have_a_budget_per_address(client, tasks_not_run, settings, tmp_path):
    from recognizer.ratelimit import Budget
    from recognizer.tests.test_ratelimit import at_the_start_of_a_window

    at_the_start_of_a_window(3600)
    settings.RATE_LIMIT_ENABLED = True
    settings.RATE_LIMIT_STORE = tmp_path / "limits.sqlite3"
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "train": Budget(2, 3600)}
    save_samples(client, 1, 7)
    answers = [client.post("/api/train").status_code for _ in range(3)]
    assert answers == [202, 409, 429]
    assert "Too many training runs" in client.post("/api/train").json()["error"]


def test_a_personal_model_is_never_activated_for_everyone(client, tasks_not_run, tiny_checkpoint, store_version):
    from recognizer.exceptions import InvalidModelVersion
    from recognizer.versions import model_version_activate

    personal = store_version("mine.pt", tiny_checkpoint, owner="s" * 32)
    with pytest.raises(InvalidModelVersion, match="personal model"):
        model_version_activate(version=personal)
    assert settings.PERSONAL_MODELS_PER_SESSION == 2
