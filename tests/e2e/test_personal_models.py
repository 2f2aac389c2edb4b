"""Your own model and the shared one, from the page: who reads whose drawings, the line that says so, switching
between the two, deleting yours (asked inline), Clear all offering to delete it too, a newer shared model to
retrain on, the note when yours cannot be loaded, and all of it on a phone."""

import re

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from recognizer.models import ModelVersion, PersonalModel, Sample
from recognizer.versions import model_version_activate, personal_model_promote
from training.models import TrainingRun

from .axe import severe_violations
from recognizer import inference
from recognizer.visitors import Visitor
from .helpers import (
    ONE, SEVEN, answers_from, draw_with_finger, draw_with_mouse, expect_prediction, held_out, model_line,
    open_page_with_samples, save_drawing, session_key, shot, wait_for_answer,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def own_model(store_version, active_model_version):
    """give(page): a model of that page's session's own, as a passing run leaves it (the shipped weights, so it
    reads like the shared one but answers as another version), and the page reloaded."""
    def give(page: Page, **fields) -> ModelVersion:
        save_drawing(page, ONE, 1)   # a session, and something to train on
        key = session_key(page)
        fields = {"owner": key, "parent": active_model_version, "trained_on": 46, "gate_passed": True,
                  "metrics": {"held_out": held_out({"7": (3, 2 / 3, 1.0)})}, **fields}
        version = store_version(f"personal-{key[:8]}.pt", settings.BASE_MODEL_CHECKPOINT, **fields)
        personal_model_promote(visitor=Visitor(key), version=version)
        open_page_with_samples(page, page.url)
        return version

    return give


def train_button(page: Page):
    return page.get_by_role("button", name="Train", exact=True)


def switch(page: Page, which: str):
    return page.locator("#model-controls").get_by_role("button", name=which, exact=True)


def test_your_model_reads_only_your_drawings_another_person_keeps_the_shared_one(
        browser, live_server, active_model_version, quick_training):
    shared = active_model_version.pk
    you = open_page_with_samples(browser.new_context().new_page(), live_server.url)
    other = open_page_with_samples(browser.new_context().new_page(), live_server.url)   # another person
    save_drawing(you, SEVEN, 7)
    train_button(you).click()   # trained inside the request by the tests' ImmediateBackend
    # The process's first run also reads MNIST's features for its parent: seconds, more on a busy machine.
    expect(you.locator("#train-outcome-title")).to_have_text(re.compile(r"^Your model #\d+ now reads your drawings$"),
                                                             timeout=30_000)
    mine = PersonalModel.objects.get(session_key=session_key(you)).version_id
    assert mine != shared and ModelVersion.objects.get(is_active=True).pk == shared

    theirs, yours = answers_from(other), answers_from(you)
    draw_with_mouse(other, SEVEN)
    expect_prediction(other, 7)
    expect(model_line(other)).to_have_text(re.compile(rf"^Shared model v{shared} · MNIST test accuracy"))
    expect(other.locator("#model-controls")).to_be_hidden()
    assert theirs == [(shared, False)]

    draw_with_mouse(you, SEVEN)   # the pad was cleared for the next drawing when the 7 was saved
    expect_prediction(you, 7)
    expect(model_line(you)).to_have_text("Your model #1, trained on 1 of your drawings")
    expect(switch(you, "Your model")).to_have_attribute("aria-pressed", "true")
    assert yours[-1] == (mine, True)

    open_page_with_samples(other, live_server.url)   # after a reload, still the shared one for them
    expect(model_line(other)).to_have_text(re.compile(rf"^Shared model v{shared}\b"))
    shot(you.locator("#model"), "model-line-yours")
    shot(other.locator("#model"), "model-line-shared")


def test_you_can_switch_to_the_shared_model_and_back_and_the_pad_is_read_again(
        samples_page: Page, own_model, active_model_version):
    page = samples_page
    mine, shared = own_model(page).pk, active_model_version.pk
    expect(model_line(page)).to_have_text("Your model #1, trained on 46 of your drawings")
    draw_with_mouse(page, SEVEN)
    expect_prediction(page, 7)
    answers = answers_from(page)

    switch(page, "Shared model").click()

    expect(model_line(page)).to_have_text(re.compile(rf"^Shared model v{shared} · MNIST test accuracy"))
    expect(switch(page, "Shared model")).to_have_attribute("aria-pressed", "true")
    expect(switch(page, "Your model")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#model")).to_have_attribute("data-serving", "shared")
    wait_for_answer(page, answers, (shared, False))
    assert not PersonalModel.objects.get().enabled
    shot(page.locator("#model"), "model-line-switched-to-shared")

    switch(page, "Your model").click()

    expect(model_line(page)).to_have_text("Your model #1, trained on 46 of your drawings")
    wait_for_answer(page, answers, (mine, True))
    assert PersonalModel.objects.get().enabled
    open_page_with_samples(page, page.url)   # the choice is the session's, not the page's
    expect(switch(page, "Your model")).to_have_attribute("aria-pressed", "true")


def test_deleting_your_model_asks_first_inline_then_the_shared_model_reads_again(
        samples_page: Page, own_model, active_model_version):
    page = samples_page
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    mine = own_model(page)
    shared = active_model_version.pk
    draw_with_mouse(page, SEVEN)
    expect_prediction(page, 7)
    answers = answers_from(page)
    delete = page.get_by_role("button", name="Delete your model")

    delete.click()
    question = page.locator("#delete-model-text")
    expect(question).to_have_text(f"Delete your model #1? From then on the shared model v{shared} reads "
                                  "your drawings. Your saved drawings stay, so you can train again.")
    expect(page.locator("#model-controls")).to_be_hidden()
    expect(page.get_by_role("button", name="Cancel")).to_be_focused()
    shot(page.locator("#model"), "model-delete-confirmation")
    page.get_by_role("button", name="Cancel").click()
    expect(question).to_have_count(0)
    expect(delete).to_be_focused()
    delete.click()
    page.keyboard.press("Escape")   # also says no, and leaves the drawing alone
    expect(question).to_have_count(0)
    expect_prediction(page, 7)
    assert ModelVersion.objects.filter(pk=mine.pk).exists()

    delete.click()
    page.get_by_role("button", name="Delete model").click()

    expect(model_line(page)).to_have_text(re.compile(rf"^Shared model v{shared}\b"))
    expect(page.locator("#model-controls")).to_be_hidden()
    expect(page.locator("#model")).to_be_focused()
    wait_for_answer(page, answers, (shared, False))
    assert not ModelVersion.objects.filter(pk=mine.pk).exists() and not PersonalModel.objects.exists()
    assert Sample.objects.count() == 1   # the drawings stay
    assert dialogs == []


def test_clear_all_offers_to_delete_your_model_too(samples_page: Page, own_model, active_model_version):
    page = samples_page
    mine = own_model(page)
    page.get_by_role("button", name="Clear all").click()
    also = page.get_by_role("checkbox", name="Also delete your model #1, which learnt from them")
    expect(also).not_to_be_checked()
    shot(page.locator("#sample-actions"), "clear-all-with-model")
    also.check()
    page.get_by_role("button", name="Delete all", exact=True).click()

    expect(page.locator("#save-status")).to_have_text("Deleted all your samples and your model.")
    expect(model_line(page)).to_have_text(re.compile(rf"^Shared model v{active_model_version.pk}\b"))
    assert not Sample.objects.exists() and not ModelVersion.objects.filter(pk=mine.pk).exists()


def test_clear_all_keeps_your_model_unless_asked_and_without_one_does_not_offer(samples_page: Page, own_model):
    page = samples_page
    mine = own_model(page)
    page.get_by_role("button", name="Clear all").click()
    page.get_by_role("button", name="Delete all", exact=True).click()
    expect(page.locator("#save-status")).to_have_text("Deleted all your samples.")
    expect(model_line(page)).to_have_text(re.compile(r"^Your model #1\b"))
    assert ModelVersion.objects.filter(pk=mine.pk).exists()

    page.get_by_role("button", name="Delete your model").click()
    page.get_by_role("button", name="Delete model").click()
    save_drawing(page, ONE, 1)
    page.get_by_role("button", name="Clear all").click()
    expect(page.get_by_role("checkbox")).to_have_count(0)


def test_a_newer_shared_model_offers_to_retrain_yours_on_it(
        samples_page: Page, own_model, store_version, active_model_version, quick_training):
    page = samples_page
    mine = own_model(page)
    newer = store_version("shared-newer.pt", settings.BASE_MODEL_CHECKPOINT)
    model_version_activate(version=newer)
    open_page_with_samples(page, page.url)
    expect(page.locator("#model-newer-text")).to_have_text(
        f"A newer shared model, v{newer.pk}, is out; yours was built on v{active_model_version.pk}. "
        "Retrain to build yours on it: your drawings are kept.")
    expect(model_line(page)).to_have_text(re.compile(r"^Your model #1\b"))
    shot(page.locator("#model"), "model-newer-shared")

    page.get_by_role("button", name=f"Retrain on v{newer.pk}").click()

    expect(page.locator("#train-outcome-title")).to_have_text("Your model #2 now reads your drawings",
                                                              timeout=30_000)
    run = TrainingRun.objects.get()
    assert run.parent_id == newer.pk and run.status == "succeeded"
    expect(page.locator("#model-newer")).to_be_hidden()
    expect(model_line(page)).to_have_text(re.compile(r"^Your model #2\b"))


def test_when_your_model_cannot_be_loaded_the_shared_one_reads_and_the_page_says_so(
        samples_page: Page, own_model, active_model_version):
    page = samples_page
    own_model(page).weights_path.unlink()
    # The page's state already asked which model serves, so this process holds the network in memory and could go
    # on serving it: start afresh, as a web process that has not loaded it yet and must read the missing file.
    inference.reset()
    draw_with_mouse(page, SEVEN)
    expect_prediction(page, 7)
    expect(page.locator("#model-note")).to_contain_text("could not be loaded")
    expect(model_line(page)).to_have_text(re.compile(rf"^Shared model v{active_model_version.pk}\b"))
    shot(page.locator("#model"), "model-note-not-loaded")


def finished_run(page: Page, parent: ModelVersion, result: ModelVersion) -> TrainingRun:
    """A succeeded run of this page's session with 8 epochs and three digits held out, as the worker records it."""
    return TrainingRun.objects.create(
        session_key=session_key(page), parent=parent, status=TrainingRun.Status.SUCCEEDED,
        progress=1.0, finished=timezone.now(), result=result,
        history=[{"epoch": e, "train_loss": 0.5 / e, "train_accuracy": 0.9 + e / 100} for e in range(1, 9)],
        metrics={"mnist_validation": {"before": 0.996, "after": 0.9958, "count": 10000},
                 "held_out": held_out({"1": (2, 0.5, 1.0), "4": (3, 1 / 3, 1.0), "7": (4, 0.75, 0.75)}),
                 "trained_on": 37, "gate": "ok", "accepted": True},
    )


def test_the_hints_read_your_last_test_for_the_model_that_reads_now_not_the_readings_saved_with_samples(
        samples_page: Page, own_model, active_model_version):
    page = samples_page
    mine = own_model(page)
    for _ in range(3):   # read as 7 when saved: by those readings alone, 4s are read right 0 %
        save_drawing(page, SEVEN, 4)
    hints = page.locator("#coach-hints li")
    expect(hints.first).to_have_text("Your 4s are read right 0 % of the time: draw a few more 4s.")

    finished_run(page, active_model_version, mine)   # its test: 4s 1 of 3 before, 3 of 3 after; 7s 3 of 4 both
    open_page_with_samples(page, page.url)

    expect(hints.first).to_have_text("Your 7s are read right 75 % of the time (3 of 4 in your last training's test): "
                                     "draw a few more 7s.")
    expect(page.locator("#coach-hints")).not_to_contain_text("4s")

    switch(page, "Shared model").click()   # the run tested the shared model too: those figures hold now

    expect(hints.first).to_have_text("Your 4s are read right 33 % of the time (1 of 3 in your last training's test): "
                                     "draw a few more 4s.")
    expect(hints.nth(1)).to_have_text(re.compile(r"^Your 1s are read right 50 % of the time \(1 of 2 in your last"))
    shot(page.locator("#coach"), "coach-hints-from-the-last-test")


def test_your_model_its_controls_and_questions_have_no_serious_accessibility_violations(
        browser, live_server, own_model, store_version, active_model_version):
    context = browser.new_context(bypass_csp=True)   # axe goes in as an inline script, which the site's CSP refuses
    page = open_page_with_samples(context.new_page(), live_server.url)
    mine = own_model(page)
    finished_run(page, active_model_version, mine)
    model_version_activate(version=store_version("shared-newer.pt", settings.BASE_MODEL_CHECKPOINT))
    open_page_with_samples(page, page.url)
    draw_with_mouse(page, SEVEN)
    expect_prediction(page, 7)
    expect(page.locator("#model-newer")).to_be_visible()
    expect(page.locator("#train-outcome-digits")).to_be_visible()
    assert severe_violations(page) == []

    page.get_by_role("button", name="Delete your model").click()
    expect(page.locator("#delete-model-text")).to_be_visible()
    assert severe_violations(page) == []
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Clear all").click()
    expect(page.get_by_role("checkbox")).to_be_visible()
    assert severe_violations(page) == []
    context.close()


def test_on_a_phone_the_model_controls_and_the_outcome_fit_and_work_by_touch(
        browser, live_server, active_model_version, own_model):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                                  device_scale_factor=2)
    page = open_page_with_samples(context.new_page(), live_server.url)
    mine = own_model(page)
    finished_run(page, active_model_version, mine)
    open_page_with_samples(page, live_server.url)
    draw_with_finger(page, SEVEN)
    expect_prediction(page, 7)
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    card = page.locator("#result").bounding_box()
    for part in ("#model-controls .switch", "#delete-model-button"):
        box = page.locator(part).bounding_box()
        assert card["x"] < box["x"] and box["x"] + box["width"] < card["x"] + card["width"], part
    expect(page.locator("#train-outcome-title")).to_have_text("Your model #1 now reads your drawings")
    expect(page.locator("#train-outcome-digits tbody tr")).to_have_count(3)
    page.locator("#model").scroll_into_view_if_needed()
    shot(page, "phone-model-controls")   # the viewport: what a person sees there
    page.locator("#train-outcome").scroll_into_view_if_needed()
    shot(page, "phone-training-outcome")

    page.wait_for_timeout(400)   # a tap right after a touch gesture makes no click
    switch(page, "Shared model").tap()
    expect(model_line(page)).to_have_text(re.compile(rf"^Shared model v{active_model_version.pk}\b"))
    expect(page.locator("#train-outcome-title")).to_have_text(
        "Your model #1 is switched off: the shared model reads your drawings")
    page.get_by_role("button", name="Delete your model").tap()
    shot(page.locator("#model"), "phone-delete-confirmation")
    context.close()
