import logging
import time

import pytest
import torch
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recognizer import inference
from recognizer.exceptions import NoActiveModel
from recognizer.ml.preprocessing import prepare_digit, to_model_input
from recognizer.models import ModelVersion
from recognizer.versions import model_version_activate
from recognizer.tests.drawings import as_upload, canvas_png


@pytest.fixture
def fresh_process(monkeypatch):
    """Start each test as a new web process would: nothing loaded yet."""
    inference.reset()
    yield
    inference.reset()


@pytest.fixture
def random_version(tiny_checkpoint, store_version):
    return store_version("random.pt", tiny_checkpoint)


def test_it_loads_the_active_version_once(fresh_process, active_model_version, caplog):
    with caplog.at_level(logging.INFO, logger="recognizer.inference"):
        first, second = inference.shared_predictor(), inference.shared_predictor()
    assert first is second
    assert first.version_id == active_model_version.pk
    assert not first.network.training
    assert sum("Loaded model" in r.getMessage() for r in caplog.records) == 1


def test_an_activation_here_is_served_by_the_very_next_prediction(fresh_process, active_model_version, random_version):
    digit = to_model_input(prepare_digit(canvas_png(), max_pixels=10**7))
    before = inference.shared_predictor()
    model_version_activate(version=random_version)
    after = inference.shared_predictor()  # well within ACTIVE_ID_TTL_SECONDS of the read above
    assert (before.version_id, after.version_id) == (active_model_version.pk, random_version.pk)
    assert not torch.allclose(before.probabilities(digit), after.probabilities(digit))


def test_predictions_within_the_ttl_run_no_query_for_the_active_version(fresh_process, active_model_version, client,
                                                                        monkeypatch):
    monkeypatch.setattr(inference, "ACTIVE_ID_TTL_SECONDS", 60)  # three predictions on a busy machine can take 0.5 s
    drawing = canvas_png()
    client.post("/api/predict", {"file": as_upload(drawing)})  # reads the active version's id
    with CaptureQueriesContext(connection) as queries:
        responses = [client.post("/api/predict", {"file": as_upload(drawing)}) for _ in range(3)]
    assert [r.json()["model_version"] for r in responses] == [active_model_version.pk] * 3
    assert queries.captured_queries == []


def activate_behind_this_process(version: ModelVersion) -> None:
    """What the admin in another web worker or the training worker does, as this process sees it: a committed
    change that never passes through this process's model_version_activate()."""
    with transaction.atomic():
        ModelVersion.objects.filter(is_active=True).update(is_active=False)
        ModelVersion.objects.filter(pk=version.pk).update(is_active=True, activated=timezone.now())


@pytest.mark.django_db(transaction=True)  # the other connection commits, as another process would
def test_a_version_activated_by_another_process_is_served_within_about_a_second(
    fresh_process, active_model_version, random_version, run_at_once
):
    inference.shared_predictor()
    run_at_once(activate_behind_this_process, [(random_version,)])
    changed = time.monotonic()
    while inference.shared_predictor().version_id != random_version.pk and time.monotonic() - changed < 5:
        time.sleep(0.02)
    assert inference.shared_predictor().version_id == random_version.pk
    assert time.monotonic() - changed < inference.ACTIVE_ID_TTL_SECONDS + 0.5


@pytest.mark.django_db(transaction=True)  # the activation really commits, so its after-commit reset runs
def test_a_thread_that_reads_during_an_activation_here_does_not_delay_the_switch(
    fresh_process, active_model_version, random_version, run_at_once
):
    seen_before_commit = []
    with transaction.atomic():
        model_version_activate(version=random_version)
        # Another request thread predicts before the commit: it reads, and caches, the old version.
        run_at_once(lambda: seen_before_commit.append(inference.shared_predictor().version_id), [()])
    assert seen_before_commit == [active_model_version.pk]
    assert inference.shared_predictor().version_id == random_version.pk


@pytest.mark.django_db(transaction=True)  # other threads have their own connections: commit for them to see
def test_concurrent_requests_during_a_switch_all_get_a_working_predictor(
    fresh_process, active_model_version, random_version, caplog, run_at_once, tasks_not_run
):  # tasks_not_run: the activation's scoring would load the new version in this thread first
    inference.shared_predictor()
    model_version_activate(version=random_version)
    caplog.clear()
    results = []
    with caplog.at_level(logging.INFO, logger="recognizer.inference"):
        run_at_once(lambda: results.append(inference.shared_predictor().version_id), [()] * 8)
    assert results == [random_version.pk] * 8
    assert sum("Loaded model" in r.getMessage() for r in caplog.records) == 1  # loaded once, under the lock


def test_it_keeps_serving_the_last_good_network_when_new_weights_break(
    fresh_process, active_model_version, random_version
):
    inference.shared_predictor()
    model_version_activate(version=random_version)
    random_version.weights_path.write_bytes(b"damaged after activation")
    assert inference.shared_predictor().version_id == active_model_version.pk


def test_a_broken_version_is_not_retried_on_every_request(
    fresh_process, active_model_version, random_version, caplog
):
    inference.shared_predictor()
    model_version_activate(version=random_version)
    random_version.weights_path.unlink()
    with caplog.at_level(logging.ERROR, logger="recognizer.inference"):
        served = [inference.shared_predictor().version_id for _ in range(5)]
    assert served == [active_model_version.pk] * 5
    assert sum("Cannot load" in r.getMessage() for r in caplog.records) == 1


def test_with_nothing_loadable_it_says_no_model_is_active(fresh_process, active_model_version):
    ModelVersion.objects.update(is_active=False)
    with pytest.raises(NoActiveModel):
        inference.shared_predictor()


def test_the_served_network_answers_like_the_stored_one(fresh_process, active_model_version):
    from recognizer.ml.checkpoints import load_checkpoint

    stored, _ = load_checkpoint(active_model_version.weights_path)
    digits = torch.stack([to_model_input(prepare_digit(canvas_png(width=w), max_pixels=10**7))[0] for w in (8, 16, 30)])
    with torch.inference_mode():
        expected = torch.softmax(stored(digits), dim=1)
    assert torch.allclose(inference.shared_predictor().probabilities(digits), expected, atol=1e-5)


def test_at_start_up_a_broken_active_version_falls_back_to_the_newest_loadable_one(
    fresh_process, active_model_version, random_version, store_version, caplog
):
    base_weights = active_model_version.weights_path
    model_version_activate(version=random_version)   # was active once: the gate or staff vouched for it
    store_version("never-active.pt", base_weights)   # newer, but never activated (a rejected candidate)
    broken = model_version_activate(version=store_version("broken.pt", base_weights, notes="broken.pt"))
    broken.weights_path.write_bytes(b"damaged while the site was down")
    with caplog.at_level(logging.WARNING, logger="recognizer.inference"):
        served = inference.shared_predictor()
    assert served.version_id == random_version.pk
    assert f"Serving {random_version}, the newest loadable version, instead of the active {broken}" in caplog.text
    assert ModelVersion.objects.get(is_active=True) == broken  # staff decide; the site only reports it


def test_at_start_up_with_no_loadable_version_predictions_answer_503(
    fresh_process, active_model_version, random_version, client
):
    model_version_activate(version=random_version)
    random_version.weights_path.unlink()
    base_weights = active_model_version.weights_path.read_bytes()
    active_model_version.weights_path.write_bytes(b"also damaged")
    try:
        response = client.post("/api/predict", {"file": as_upload(canvas_png())})
    finally:
        active_model_version.weights_path.write_bytes(base_weights)
    assert response.status_code == 503  # never an untrained network
    assert "cannot be loaded" in response.json()["error"]
