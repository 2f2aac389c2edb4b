"""Fine-tuning from the drawing page: the Train button, live progress and chart, and the outcome.

The main test runs a real `manage.py training_worker` process against the test database, so the page sees a run
queued, running epoch by epoch and finished, exactly as in production. Training is kept small (2 epochs, a
replay of 1000 MNIST images, 1000 test images for the gate).
"""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from recognizer.models import ModelVersion
from tests.test_worker import worker_environment
from training.models import TrainingRun

from .helpers import (
    ONE, SEVEN, SEVEN_TWO_STROKES, draw_with_mouse, enforce_strict_csp, expect_prediction, open_page_with_samples,
    save_drawing,
)

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
PROGRESS_BETWEEN = """() => {
  const bar = document.getElementById("train-progress");
  return document.getElementById("train").dataset.status === "running" && bar.value > 0 && bar.value < 1;
}"""
EPOCH_POINTS = "n => document.querySelectorAll('#train-chart .chart__series--accuracy .chart__point').length >= n"
OUTCOME_TITLES = {
    "succeeded": r"^New model v\d+ is now active$",
    "rejected": r"^The new model was not used: .+",
    "failed": r"^Training failed: .+",
}


@pytest.fixture
def quick_training(settings):
    # At the default learning rate (1e-3) this short run costs the model 0.6 points on these 1000 MNIST images and
    # the gate (at most 0.5) rejects it; a gentler rate keeps the outcome a success, as the main test needs.
    # These reach the worker process in the run's params, stored when the page starts the run.
    settings.FINE_TUNE = {"epochs": 2, "min_replay": 1000, "learning_rate": 1e-4}
    settings.FINE_TUNE_EVAL_LIMIT = 1000


@pytest.fixture
def training_worker(settings, quick_training, tmp_path):
    """Runs go to the database queue, where a real worker process (see tests/test_worker.py) picks them up."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    env = worker_environment()
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "manage.py", "training_worker", "--interval", "0.2"], cwd=ROOT,
                                   env=env, stdout=output, stderr=subprocess.STDOUT)
    yield log
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def train_button(page: Page):
    return page.get_by_role("button", name="Train", exact=True)


def wait_for(condition, page: Page, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        page.wait_for_timeout(100)


def test_training_shows_progress_and_a_chart_then_the_new_version_takes_over(
        page: Page, live_server, active_model_version, training_worker):
    problems = enforce_strict_csp(page, live_server.url + "/")
    open_page_with_samples(page, live_server.url + "/")
    expect(train_button(page)).to_have_attribute("aria-disabled", "true")
    expect(page.locator("#train-reason")).to_have_text("Save a few labelled drawings first")
    for strokes, label in [(SEVEN, 7), (ONE, 1), (SEVEN_TWO_STROKES, 7), (ONE, 1)]:
        save_drawing(page, strokes, label)
    expect(page.locator("#train-reason")).to_have_text("Learns from your 4 samples")
    draw_with_mouse(page, SEVEN)   # left on the pad: the new version should read it again
    expect_prediction(page, 7)
    answered_by, train_posts = [], []
    page.on("response", lambda r: r.url.endswith("/api/predict") and r.ok and answered_by.append(r.json()["model_version"]))
    page.on("request", lambda r: r.method == "POST" and r.url.endswith("/api/train") and train_posts.append(r))

    train_button(page).click()

    expect(page.locator("#train-reason")).to_have_text(re.compile(r"^Training… \(run \d+\)$"))
    expect(train_button(page)).to_have_attribute("aria-disabled", "true")
    train_button(page).click(force=True)   # disabled (Playwright would wait until it is not): no second run
    page.wait_for_function(PROGRESS_BETWEEN, timeout=90_000)
    expect(page.locator("#train-stage")).to_have_text(re.compile(r"^(Training epoch \d|Measuring|Checking)"))
    page.wait_for_function(EPOCH_POINTS, arg=1, timeout=90_000)
    expect(page.locator("#train-outcome")).to_be_visible(timeout=120_000)

    run = TrainingRun.objects.get()
    assert run.status == "succeeded", (run.metrics.get("gate"), run.error, training_worker.read_text()[-2000:])
    new = run.result_id
    assert ModelVersion.objects.get(is_active=True).pk == new != active_model_version.pk
    expect(page.locator("#train-outcome-title")).to_have_text(f"New model v{new} is now active")
    expect(page.locator("#train-outcome")).to_contain_text(re.compile(r"Your samples\s*\d+(\.\d)?\s%\s→\s\d+(\.\d)?\s%"))
    expect(page.locator("#train-outcome")).to_contain_text(re.compile(r"MNIST test\s*\d+\.\d\d\s%\s→\s\d+\.\d\d\s%"))
    expect(page.locator("#model-line-text")).to_have_text(re.compile(rf"^Model v{new} · MNIST test accuracy"))
    wait_for(lambda: new in answered_by, page)   # the drawing on the pad, read again by the new version
    page.wait_for_function(EPOCH_POINTS, arg=2)
    assert page.locator("#train-progress").evaluate("bar => bar.value") == 1
    expect(train_button(page)).to_have_attribute("aria-disabled", "false")
    assert len(train_posts) == 1

    open_page_with_samples(page, live_server.url + "/")   # a reload shows the finished run
    expect(page.locator("#train-outcome-title")).to_have_text(f"New model v{new} is now active")
    expect(page.locator("#model-line-text")).to_have_text(re.compile(rf"^Model v{new}\b"))
    page.wait_for_function(EPOCH_POINTS, arg=2)
    assert problems == []


def test_a_run_that_finished_inside_the_request_shows_its_outcome_at_the_first_poll(
        samples_page: Page, settings, quick_training):
    # The tests' ImmediateBackend trains inside POST /api/train; a few batches are enough to see the page cope.
    settings.FINE_TUNE = {**settings.FINE_TUNE, "max_batches": 3}
    page = samples_page
    save_drawing(page, SEVEN, 7)
    with page.expect_response(re.compile(r"/api/train/\d+$")) as first_poll:
        train_button(page).click()
    assert first_poll.value.json()["status"] in {"succeeded", "rejected"}   # already over, and it trained

    run = TrainingRun.objects.get()
    expect(page.locator("#train-outcome-title")).to_have_text(re.compile(OUTCOME_TITLES[run.status]))
    expect(page.locator("#train-stage")).to_have_text(re.compile(r"^(Finished|Stopped) after \d+\s+s$"))
    page.wait_for_function(EPOCH_POINTS, arg=2)
    expect(train_button(page)).to_have_attribute("aria-disabled", "false")


def test_train_waits_while_another_sessions_run_is_open(samples_page: Page, live_server, active_model_version):
    page = samples_page
    other = TrainingRun.objects.create(session_key="someone-else", parent=active_model_version,
                                       status=TrainingRun.Status.RUNNING, heartbeat=timezone.now())
    open_page_with_samples(page, live_server.url)
    save_drawing(page, ONE, 1)
    expect(page.locator("#train-reason")).to_have_text("Another training run is in progress")
    expect(train_button(page)).to_have_attribute("aria-disabled", "true")

    TrainingRun.objects.filter(pk=other.pk).update(status=TrainingRun.Status.FAILED, finished=timezone.now())

    expect(page.locator("#train-reason")).to_have_text("Learns from your 1 sample", timeout=10_000)
    expect(train_button(page)).to_have_attribute("aria-disabled", "false")


def test_a_run_left_queued_for_a_minute_hints_that_no_trainer_is_running(
        page: Page, live_server, active_model_version, settings, quick_training):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}   # queued, and no worker runs
    page.clock.install()   # the page's own clock, moved on below instead of waiting a minute
    open_page_with_samples(page, live_server.url)
    save_drawing(page, ONE, 1)
    train_button(page).click()
    expect(page.locator("#train-stage")).to_have_text("Queued — waiting for the trainer")
    page.clock.fast_forward("01:05")
    expect(page.locator("#train-stage")).to_have_text(re.compile(r"^Still queued — the trainer may not be running"))
    assert TrainingRun.objects.get().status == TrainingRun.Status.QUEUED


def test_a_rejected_run_and_a_failed_run_say_why(samples_page: Page, live_server, active_model_version):
    page = samples_page
    save_drawing(page, ONE, 1)
    session_key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    gate = "MNIST accuracy fell from 99.60% to 98.90% (0.70 points; at most 0.5 allowed)."
    TrainingRun.objects.create(
        session_key=session_key, parent=active_model_version, status=TrainingRun.Status.REJECTED, progress=1.0,
        history=[{"epoch": 1, "train_loss": 0.41, "train_accuracy": 0.95},
                 {"epoch": 2, "train_loss": 0.33, "train_accuracy": 0.97}],
        metrics={"before": {"mnist_accuracy": 0.996, "user_accuracy": 0.4},
                 "after": {"mnist_accuracy": 0.989, "user_accuracy": 1.0}, "gate": gate, "accepted": False},
        finished=timezone.now(),
    )
    open_page_with_samples(page, live_server.url)
    expect(page.locator("#train-outcome-title")).to_have_text(f"The new model was not used: {gate}")
    expect(page.locator("#train-outcome")).to_contain_text(re.compile(r"Your samples\s*40\s%\s→\s100\s%\s\+60 pts"))
    expect(page.locator("#train-outcome")).to_contain_text(re.compile(r"MNIST test\s*99\.60\s%\s→\s98\.90\s%\s−0\.7 pts"))
    expect(page.locator("#train-outcome-note")).to_have_text(f"Model v{active_model_version.pk} stays active.")
    expect(page.locator("#train-chart")).to_have_attribute("aria-label", re.compile(r"epoch 2: loss 0\.330, accuracy 97"))

    TrainingRun.objects.create(session_key=session_key, parent=active_model_version,
                               status=TrainingRun.Status.FAILED, error="Sample 3's image cannot be read.",
                               finished=timezone.now())
    open_page_with_samples(page, live_server.url)
    expect(page.locator("#train-outcome-title")).to_have_text("Training failed: Sample 3's image cannot be read.")
    expect(page.locator("#model-line-text")).to_have_text(re.compile(rf"^Model v{active_model_version.pk}\b"))
