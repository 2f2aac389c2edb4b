"""The training queue's budgets and order: a few open runs per client network, everyone's first run before
anyone's second, and scoring and staff's runs before any visitor's. The order asserted is django-tasks-db's own
claim order over the real task rows (the worker takes DBTaskResult.objects.ready().first())."""

import pytest
from django.test import Client
from django_tasks_db.models import DBTaskResult

from recognizer.tasks import scoring_enqueue
from training.models import TrainingRun
from training.services import training_run_create_shared

from .test_training_runs import save_samples

NETWORK_A, NETWORK_B = "203.0.113.7", "198.51.100.20"


@pytest.fixture
def database_queue(settings, active_model_version):
    """Tasks go to django-tasks-db's table and stay there: no worker runs them in these tests."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def visitor_on(address: str) -> Client:
    client = Client(REMOTE_ADDR=address)
    save_samples(client, 1, 7)
    return client


def queue(client: Client) -> int:
    response = client.post("/api/train")
    assert response.status_code == 202, response.content
    return response.json()["job"]


def claim_order() -> list[str]:
    """What a worker would take, first to last: "run <id>" for fine-tunes, the task's name otherwise."""
    return [f"run {task.args_kwargs['kwargs']['run_id']}" if task.task_name == "fine_tune_run" else task.task_name
            for task in DBTaskResult.objects.ready()]


def position(client: Client, run_id: int) -> int:
    return client.get(f"/api/train/{run_id}").json()["queue_position"]


def test_a_network_has_at_most_three_open_runs_and_the_fourth_gets_429_with_retry_after(
    active_model_version, tasks_not_run, settings
):
    assert settings.TRAINING_OPEN_RUNS_PER_NETWORK == 3
    first_three = [queue(visitor_on(NETWORK_A)) for _ in range(3)]
    fourth = visitor_on(NETWORK_A)  # a new session, same address: not a new budget
    response = fourth.post("/api/train")
    assert response.status_code == 429 and response["Retry-After"] == "60"
    assert response.json()["error"] == ("3 training runs from your network are already waiting or running, the most "
                                        "one address may have at a time. Try again when one of them has finished.")
    assert TrainingRun.objects.count() == 3
    queue(visitor_on(NETWORK_B))  # another network is not held back
    TrainingRun.objects.filter(pk=first_three[0]).update(status="succeeded")
    queue(fourth)


def test_an_ipv6_network_is_counted_per_64(active_model_version, tasks_not_run, settings):
    settings.TRAINING_OPEN_RUNS_PER_NETWORK = 1
    queue(visitor_on("2001:db8:1:2::1"))
    assert visitor_on("2001:db8:1:2:ffff::9").post("/api/train").status_code == 429
    queue(visitor_on("2001:db8:1:3::1"))


def test_a_session_with_an_open_run_still_hears_409_about_its_own_run(active_model_version, tasks_not_run, settings):
    settings.TRAINING_OPEN_RUNS_PER_NETWORK = 1
    client = visitor_on(NETWORK_A)
    queue(client)
    assert client.post("/api/train").status_code == 409


def test_a_networks_second_run_waits_behind_another_networks_first(database_queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the runs' tasks are queued as each request commits
        a_clients = [visitor_on(NETWORK_A) for _ in range(3)]
        a_runs = [queue(client) for client in a_clients]
        b_client = visitor_on(NETWORK_B)
        b_run = queue(b_client)
    assert claim_order() == [f"run {a_runs[0]}", f"run {b_run}", f"run {a_runs[1]}", f"run {a_runs[2]}"]
    assert [position(c, r) for c, r in zip(a_clients, a_runs)] == [1, 3, 4]
    assert position(b_client, b_run) == 2  # second, not fourth
    TrainingRun.objects.filter(pk=a_runs[0]).update(status="running")  # a worker took it
    assert position(b_client, b_run) == 1 and position(a_clients[2], a_runs[2]) == 3


def test_scoring_and_staff_runs_go_before_visitors_runs(database_queue, make_sample, settings,
                                                        django_capture_on_commit_callbacks):
    settings.SHARED_MAX_SESSION_SHARE = 1.0  # one session's approved samples make a shared run here
    for sample in [make_sample(session_key="a" * 32, label=1, width=12 + i) for i in range(2)]:
        sample.status = "approved"
        sample.save()
    with django_capture_on_commit_callbacks(execute=True):
        visitors = [visitor_on(address) for address in (NETWORK_A, NETWORK_B)]
        runs = [queue(client) for client in visitors]
        shared = training_run_create_shared(requested_by="staff")
        scoring_enqueue()
    assert claim_order() == ["samples_score_run", f"run {shared.pk}", f"run {runs[0]}", f"run {runs[1]}"]
    assert [position(client, run) for client, run in zip(visitors, runs)] == [2, 3]  # behind the shared run
