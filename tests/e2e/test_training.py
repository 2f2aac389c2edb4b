"""Training your own model from the drawing page: the Train button, the queue, live progress and chart, the outcome
measured on drawings the run did not train on, and the model that reads each person's drawings afterwards.

The main test runs a real `manage.py training_worker` process against the test database, so the page sees a run
queued, running epoch by epoch and finished, exactly as in production. The others train inside the request (the
tests' ImmediateBackend) or set up runs and models directly. Training is kept small (2 epochs, a replay of 1000
MNIST images, 1000 validation images for the gate).
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from recognizer.models import ModelVersion, PersonalModel
from tests.test_worker import worker_environment
from training.ml.adapt import HOLDOUT_MIN_PER_DIGIT
from training.models import TrainingRun

from .helpers import (
    ONE, SEVEN, SEVEN_TWO_STROKES, answers_from, draw_with_mouse, enforce_strict_csp, expect_prediction, held_out,
    jittered, model_line, open_page_with_samples, save_drawing, session_key, shot, wait_for_answer,
)

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
# What the training card shows, recorded at every change: runs take seconds now, too short to catch by polling.
WATCH_THE_CARD = """() => {
  window.cardSeen = [];
  const card = document.getElementById("train");
  const record = () => window.cardSeen.push({
    status: card.dataset.status || "", stage: document.getElementById("train-stage").textContent,
    progress: document.getElementById("train-progress").value,
    points: card.querySelectorAll("#train-chart .chart__series--accuracy .chart__point").length,
  });
  new MutationObserver(record).observe(card, { subtree: true, childList: true, characterData: true, attributes: true });
}"""
EPOCH_POINTS = "n => document.querySelectorAll('#train-chart .chart__series--accuracy .chart__point').length >= n"
OUTCOME_TITLES = {
    "succeeded": r"^Your model #\d+ now reads your drawings$",
    "rejected": r"^Your model did not change: .+",
    "failed": r"^Training failed: .+",
}


@pytest.fixture
def training_worker(settings, quick_training, tmp_path):
    """Runs go to the database queue, where a real worker process (see tests/test_worker.py) picks them up."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "manage.py", "training_worker", "--interval", "0.2"], cwd=ROOT,
                                   env=worker_environment(), stdout=output, stderr=subprocess.STDOUT)
    yield log
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def queue_only(settings, quick_training):
    """Runs are queued in the database and no worker takes them: they stay queued."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def train_button(page: Page):
    return page.get_by_role("button", name="Train", exact=True)


def save_five_of_each(page: Page) -> None:
    """Five 7s and five 1s, each a little different: enough for the run to hold one of each out."""
    for n in range(5):
        save_drawing(page, jittered(SEVEN if n % 2 else SEVEN_TWO_STROKES, n), 7)
        save_drawing(page, jittered(ONE, n), 1)


def test_training_shows_progress_and_a_chart_then_your_model_reads_your_drawings(
        page: Page, live_server, active_model_version, training_worker, settings):
    # Long enough to watch at the page's 0.7 s polls: 8 epochs now train in about a second, between two polls.
    settings.FINE_TUNE = {**settings.FINE_TUNE, "epochs": 60}
    problems = enforce_strict_csp(page, live_server.url + "/")
    open_page_with_samples(page, live_server.url + "/")
    expect(page.locator("#train-title")).to_have_text("Train your own model")
    expect(page.locator(".train__intro")).to_contain_text("everyone else keeps the shared model")
    expect(train_button(page)).to_have_attribute("aria-disabled", "true")
    expect(page.locator("#train-reason")).to_have_text("Save a few labelled drawings first")
    save_five_of_each(page)
    expect(page.locator("#train-reason")).to_have_text("Learns from your 10 samples")
    draw_with_mouse(page, SEVEN)   # left on the pad: your new model should read it again
    expect_prediction(page, 7)
    answers, train_posts = answers_from(page), []
    page.on("request", lambda r: r.method == "POST" and r.url.endswith("/api/train") and train_posts.append(r))

    page.evaluate(WATCH_THE_CARD)
    train_button(page).click()

    expect(page.locator("#train-reason")).to_have_text(re.compile(r"^Training… \(run \d+\)$"))
    expect(train_button(page)).to_have_attribute("aria-disabled", "true")
    train_button(page).click(force=True)   # disabled (Playwright would wait until it is not): no second run
    expect(page.locator("#train-outcome")).to_be_visible(timeout=120_000)

    run = TrainingRun.objects.get()
    assert run.status == "succeeded", (run.metrics.get("gate"), run.error, training_worker.read_text()[-2000:])
    seen = page.evaluate("window.cardSeen")
    running = [s for s in seen if s["status"] == "running"]
    assert any(0 < s["progress"] < 1 for s in running), seen   # the bar moved while it ran
    assert any(s["points"] >= 1 and s["stage"].startswith("Training epoch") for s in running), seen   # the chart too
    assert {"Next in line", "Reading your drawings…"} & {s["stage"] for s in seen}, seen
    mine = run.result_id
    assert ModelVersion.objects.get(is_active=True).pk == active_model_version.pk   # the shared model is untouched
    assert PersonalModel.objects.get(session_key=session_key(page)).version_id == mine
    expect(page.locator("#train-outcome-title")).to_have_text("Your model #1 now reads your drawings")
    expect(page.locator("#train-outcome-table")).to_contain_text(
        re.compile(r"2 drawings it did not train on\s*\d+(\.\d)?\s%\s→\s\d+(\.\d)?\s%"))
    expect(page.locator("#train-outcome-table")).to_contain_text(
        re.compile(r"MNIST validation \(1,000 digits\)\s*\d+\.\d\d\s%\s→\s\d+\.\d\d\s%"))
    expect(page.locator("#train-outcome-digits tbody tr")).to_have_count(2)   # a 1 and a 7 held out
    expect(page.locator("#train-outcome-digits tbody tr").first).to_contain_text(re.compile(r"1\s*1 drawing\s*[01]/1"))
    expect(page.locator("#train-outcome-unmeasured")).to_be_hidden()
    expect(page.locator("#train-outcome-note")).to_have_text(
        f"Trained on 8 of your drawings; 2 more kept aside to test it. Built on shared model v{active_model_version.pk}.")
    expect(model_line(page)).to_have_text("Your model #1, trained on 8 of your drawings")
    wait_for_answer(page, answers, (mine, True))   # the drawing on the pad, read again by your model
    page.wait_for_function(EPOCH_POINTS, arg=8)
    assert page.locator("#train-progress").evaluate("bar => bar.value") == 1
    expect(train_button(page)).to_have_attribute("aria-disabled", "false")
    assert len(train_posts) == 1
    shot(page.locator("#train"), "training-card-after-run")
    shot(page.locator("#result"), "prediction-with-your-model")

    open_page_with_samples(page, live_server.url + "/")   # a reload shows the finished run and your model
    expect(page.locator("#train-outcome-title")).to_have_text("Your model #1 now reads your drawings")
    expect(model_line(page)).to_have_text("Your model #1, trained on 8 of your drawings")
    page.wait_for_function(EPOCH_POINTS, arg=8)
    assert problems == []


def test_a_run_that_finished_inside_the_request_shows_its_outcome_at_the_first_poll(
        samples_page: Page, quick_training):
    page = samples_page   # the tests' ImmediateBackend trains inside POST /api/train
    save_drawing(page, SEVEN, 7)
    with page.expect_response(re.compile(r"/api/train/\d+$")) as first_poll:
        train_button(page).click()
    assert first_poll.value.json()["status"] in {"succeeded", "rejected"}   # already over, and it trained

    run = TrainingRun.objects.get()
    expect(page.locator("#train-outcome-title")).to_have_text(re.compile(OUTCOME_TITLES[run.status]),
                                                              timeout=30_000)
    expect(page.locator("#train-stage")).to_have_text(re.compile(r"^(Finished|Stopped) after \d+\s+s$"))
    page.wait_for_function(EPOCH_POINTS, arg=2)
    expect(train_button(page)).to_have_attribute("aria-disabled", "false")


def test_with_one_drawing_nothing_is_held_out_and_the_outcome_says_so_instead_of_a_score(
        samples_page: Page, quick_training):
    page = samples_page
    save_drawing(page, SEVEN, 7)
    train_button(page).click()
    expect(page.locator("#train-outcome-title")).to_have_text(re.compile(OUTCOME_TITLES["succeeded"]),
                                                              timeout=30_000)
    expect(page.locator("#train-outcome-unmeasured")).to_have_text(re.compile(
        rf"^Too few drawings to hold any out.+Save at least {HOLDOUT_MIN_PER_DIGIT} of a digit: 20 % of them"))
    expect(page.locator("#train-outcome-table")).not_to_contain_text("did not train on")
    expect(page.locator("#train-outcome-table")).to_contain_text("MNIST validation")
    expect(page.locator("#train-outcome-digits")).to_be_hidden()
    expect(page.locator("#train-outcome-note")).to_have_text(re.compile(r"^Trained on 1 of your drawings\. Built on"))
    page.wait_for_timeout(500)   # the bar's last stretch is animated
    shot(page.locator("#train"), "training-card-nothing-held-out")


def test_another_sessions_open_run_does_not_block_yours_it_only_queues_ahead(
        samples_page: Page, live_server, active_model_version, queue_only):
    page = samples_page
    ahead = TrainingRun.objects.create(session_key="someone-else", parent=active_model_version,
                                       status=TrainingRun.Status.QUEUED)
    open_page_with_samples(page, live_server.url)
    save_drawing(page, ONE, 1)
    expect(page.locator("#train-reason")).to_have_text("Learns from your 1 sample")
    expect(train_button(page)).to_have_attribute("aria-disabled", "false")

    train_button(page).click()

    expect(page.locator("#train-stage")).to_have_text("Waiting: 1 run ahead of yours")
    shot(page.locator("#train"), "training-card-queued")
    TrainingRun.objects.filter(pk=ahead.pk).update(status=TrainingRun.Status.RUNNING, heartbeat=timezone.now())
    expect(page.locator("#train-stage")).to_have_text("Next in line")
    assert TrainingRun.objects.filter(session_key=session_key(page), status="queued").count() == 1


def test_a_run_left_queued_for_a_minute_hints_that_no_trainer_is_running(
        page: Page, live_server, active_model_version, queue_only):
    page.clock.install()   # the page's own clock, moved on below instead of waiting a minute
    open_page_with_samples(page, live_server.url)
    save_drawing(page, ONE, 1)
    train_button(page).click()
    expect(page.locator("#train-stage")).to_have_text("Next in line")
    page.clock.fast_forward("01:05")
    expect(page.locator("#train-stage")).to_have_text(re.compile(r"^Still queued — the trainer may not be running"))
    assert TrainingRun.objects.get().status == TrainingRun.Status.QUEUED


def test_a_rejected_run_and_a_failed_run_say_why_and_that_your_model_did_not_change(
        samples_page: Page, live_server, active_model_version):
    page = samples_page
    save_drawing(page, ONE, 1)
    gate = "On drawings it did not train on, accuracy fell from 80.0% to 60.0%."
    TrainingRun.objects.create(
        session_key=session_key(page), parent=active_model_version, status=TrainingRun.Status.REJECTED,
        progress=1.0, finished=timezone.now(),
        history=[{"epoch": 1, "train_loss": 0.41, "train_accuracy": 0.95},
                 {"epoch": 2, "train_loss": 0.33, "train_accuracy": 0.97}],
        metrics={"mnist_validation": {"before": 0.996, "after": 0.9951, "count": 10000},
                 "held_out": {**held_out({"4": (2, 1.0, 0.5), "7": (3, 2 / 3, 2 / 3)}),
                              "not_a_digit": {"before": 0.4, "after": 0.2}},
                 "trained_on": 20, "gate": gate, "accepted": False},
    )
    open_page_with_samples(page, live_server.url)
    expect(page.locator("#train-outcome-title")).to_have_text(f"Your model did not change: {gate}")
    expect(page.locator("#train-outcome")).to_have_attribute("data-kind", "warn")
    expect(page.locator("#train-outcome-table")).to_contain_text(
        re.compile(r"5 drawings it did not train on\s*80\s%\s→\s60\s%\s−20 pts"))
    expect(page.locator("#train-outcome-table")).to_contain_text(   # 2 of them called no digit before, 1 after
        re.compile(r"… taken for a digit at all\s*60\s%\s→\s80\s%\s\+20 pts"))
    expect(page.locator("#train-outcome-table")).to_contain_text(
        re.compile(r"MNIST validation \(10,000 digits\)\s*99\.60\s%\s→\s99\.51\s%\s−0\.09 pts"))
    rows = page.locator("#train-outcome-digits tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td").nth(1)).to_have_attribute("aria-label", re.compile(r"^1 of 2 right \(50\s%\)$"))
    expect(rows.nth(0).locator("td").nth(1)).to_have_class(re.compile(r"\bis-down\b"))
    expect(rows.nth(1).locator("td").nth(1)).to_have_text("2/3")
    expect(page.locator("#train-outcome-note")).to_have_text(
        f"The new one was not used. The shared model v{active_model_version.pk} still reads your drawings.")
    expect(page.locator("#train-chart")).to_have_attribute("aria-label", re.compile(r"epoch 2: loss 0\.330, accuracy 97"))
    shot(page.locator("#train"), "training-card-rejected")

    TrainingRun.objects.create(session_key=session_key(page), parent=active_model_version,
                               status=TrainingRun.Status.FAILED, error="Sample 3's image cannot be read.",
                               finished=timezone.now())
    open_page_with_samples(page, live_server.url)
    expect(page.locator("#train-outcome-title")).to_have_text("Training failed: Sample 3's image cannot be read.")
    expect(page.locator("#train-outcome-note")).to_have_text(re.compile(r"^Your model did not change\."))
    expect(model_line(page)).to_have_text(re.compile(rf"^Shared model v{active_model_version.pk}\b"))
