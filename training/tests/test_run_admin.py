"""A training run's admin page: progress as a percentage and a bar, loss and accuracy per epoch as a chart and a
table, results and settings as tables of rounded figures (never raw JSON), and the JSON its page polls while the
run is open."""

import json
import re
from dataclasses import asdict

import pytest

from training.ml.adapt import AdaptConfig
from training.models import TrainingRun

RUN_URL = "/admin/training/trainingrun/{}/change/"
LIVE_URL = "/admin/training/trainingrun/{}/live/"
HISTORY = [{"epoch": 1, "train_loss": 0.6931471805599453, "train_accuracy": 0.8123456789012345},
           {"epoch": 2, "train_loss": 0.4123456789, "train_accuracy": 0.9012345678},
           {"epoch": 3, "train_loss": 0.2987654321, "train_accuracy": 0.9456789012}]
METRICS = {
    "left_out": {"aaaaaaaa": 3},
    "mnist_validation": {"before": 0.9960000000000001, "after": 0.9957999999999999, "count": 10000},
    "held_out": {"count": 10, "before": 0.8, "after": 0.9,
                 "per_digit": {"1": {"count": 5, "before": 0.6000000000000001, "after": 0.8},
                               "7": {"count": 5, "before": 1.0, "after": 1.0}}},
    "nondigit_recall": {"count": 30, "before": 0.9563218355178833, "after": 0.9333333333333333},
    "trained_on": 40, "accepted": True,
    "gate": "MNIST validation 99.60% → 99.58%; held-out drawings 80.0% → 90.0%.",
    "seconds": {"load": 0.41234, "train": 2.15678, "gate": 0.30912, "activate": 0.0567},
}
LONG_FLOAT = re.compile(r"\d\.\d{5,}")


@pytest.fixture
def finished(active_model_version):
    return TrainingRun.objects.create(kind="shared", status="succeeded", progress=1.0, parent=active_model_version,
                                      history=HISTORY, metrics=METRICS, params=asdict(AdaptConfig()),
                                      requested_by="admin")


@pytest.fixture
def running(active_model_version):
    return TrainingRun.objects.create(kind="shared", status="running", progress=0.4213, parent=active_model_version,
                                      history=HISTORY[:2], params=asdict(AdaptConfig(epochs=8)), requested_by="admin")


def test_a_runs_page_shows_its_figures_rounded_in_tables_not_raw_json(admin_client, finished):
    page = admin_client.get(RUN_URL.format(finished.pk)).content.decode()
    assert not LONG_FLOAT.search(page) and '"train_loss"' not in page and "{&quot;" not in page
    assert "99.60\u00a0% → 99.58\u00a0% (-0.02 points) on 10,000 images" in page
    assert "80.00\u00a0% → 90.00\u00a0% of 10" in page and "95.63\u00a0% → 93.33\u00a0% of 30" in page
    assert "session aaaaaaaa: 3 samples" in page and "40 drawings" in page
    assert "✓ passed: MNIST validation 99.60% → 99.58%" in page
    assert "reading 0.4\u00a0s · training 2.2\u00a0s · gating 0.3\u00a0s · storing 0.1\u00a0s" in page
    assert "<td>60.00\u00a0%</td><td>80.00\u00a0%</td>" in page  # held-out 1s, parent then after training
    assert "Learning rate" in page and "<td>0.002</td>" in page and "<td>256</td>" in page  # the settings


def test_a_runs_page_shows_progress_as_a_percentage_with_a_bar(admin_client, finished, running):
    done = admin_client.get(RUN_URL.format(finished.pk)).content.decode()
    assert '<progress id="run-progress-bar" max="100" value="100"' in done and "<strong>100&nbsp;%</strong>" in done
    assert "Progress 1.0" not in done and "<strong>1.0</strong>" not in done
    page = admin_client.get(RUN_URL.format(running.pk)).content.decode()
    assert 'value="42"' in page and "<strong>42&nbsp;%</strong> · epoch 2 of 8 done" in page


def test_a_runs_page_charts_loss_and_accuracy_per_epoch_and_tables_them(admin_client, finished):
    page = admin_client.get(RUN_URL.format(finished.pk)).content.decode()
    charts = re.findall(r'<svg viewBox="0 0 340 190".*?</svg>', page, re.S)
    assert len(charts) == 2  # loss, accuracy: drawn by the server, nothing fetched
    loss, accuracy = charts
    assert "Loss per epoch: training: 0.693 at epoch 1, 0.299 at epoch 3" in loss
    assert "Accuracy per epoch: training: 81.23\u00a0% at epoch 1, 94.57\u00a0% at epoch 3" in accuracy
    points = re.search(r'class="run-chart__line run-chart__line--train" points="([^"]+)"', loss).group(1).split()
    heights = [float(point.split(",")[1]) for point in points]
    assert len(points) == 3 and heights[0] < heights[1] < heights[2]  # the loss falls: each point lower (larger y)
    assert "<th scope=\"row\">3</th><td>0.299</td><td>94.57\u00a0%</td>" in page


def test_a_queued_run_says_no_epoch_has_finished(admin_client, active_model_version):
    run = TrainingRun.objects.create(kind="shared", parent=active_model_version, params=asdict(AdaptConfig()))
    page = admin_client.get(RUN_URL.format(run.pk)).content.decode()
    assert "waiting for a training worker" in page and "No epoch has finished yet." in page
    assert "Measured once the run has trained." in page


def test_an_open_runs_page_follows_it_and_a_finished_ones_does_not(admin_client, finished, running):
    page = admin_client.get(RUN_URL.format(running.pk)).content.decode()
    assert f'data-run-live="{LIVE_URL.format(running.pk)}"' in page
    assert re.search(r'<script src="/static/recognizer/run_live\.js"', page)
    assert "data-run-live" not in admin_client.get(RUN_URL.format(finished.pk)).content.decode()


def test_the_live_json_carries_the_status_and_the_parts_of_the_page_that_change(admin_client, running):
    response = admin_client.get(LIVE_URL.format(running.pk))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    news = response.json()
    assert (news["status"], news["open"], news["progress"]) == ("running", True, 0.4213)
    assert set(news["fields"]) == {"progress_shown", "history_shown", "metrics_shown"}
    assert "<strong>42&nbsp;%</strong>" in news["fields"]["progress_shown"]
    assert news["fields"]["history_shown"].count("<svg") == 2
    TrainingRun.objects.filter(pk=running.pk).update(status="succeeded", progress=1.0, history=HISTORY,
                                                     metrics=METRICS)
    news = admin_client.get(LIVE_URL.format(running.pk)).json()
    assert news["open"] is False and "data-run-live" not in news["fields"]["progress_shown"]
    assert "✓ passed" in news["fields"]["metrics_shown"]


def test_the_live_json_is_for_staff_only_and_says_when_there_is_no_such_run(client, admin_client, django_user_model,
                                                                           running):
    client.force_login(django_user_model.objects.create_user("student", password="a long password 123"))
    response = client.get(LIVE_URL.format(running.pk))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    missing = admin_client.get(LIVE_URL.format(running.pk + 100))
    assert missing.status_code == 404 and json.loads(missing.content) == {"error": "No such training run."}
