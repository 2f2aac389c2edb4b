"""Delete all my data, from the page: asked inline, then every sample and its files, the personal model and its
weights, the training runs and the session itself are gone, and the page shows the empty state in place. Keep and
Escape delete nothing; a failed deletion says why; the question fits a phone and passes axe."""

import re

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.files.storage import default_storage, storages
from django.utils import timezone
from playwright.sync_api import Page, expect

from recognizer.models import ModelVersion, PersonalModel, Sample
from recognizer.versions import personal_model_promote
from recognizer.visitors import Visitor
from training.models import TrainingRun

from .axe import severe_violations
from .helpers import (
    ONE, SEVEN, draw_with_finger, held_out, model_line, open_page_with_samples, save_drawing, session_key, shot,
    thumbnails,
)

pytestmark = pytest.mark.e2e

QUESTION = "Delete your 2 samples, your personal model and your training history? This cannot be undone."


def delete_button(page: Page):
    return page.get_by_role("button", name="Delete all my data")


def question(page: Page):
    return page.locator("#delete-my-data-text")


@pytest.fixture
def kept_data(store_version, active_model_version):
    """give(page): two samples saved on the page, a personal model of that session (its weights in the models
    storage) and a finished run that made it, as a passing run leaves them; the page reloaded. Returns the
    session key and the names of every file the session owns, per storage."""
    def give(page: Page) -> tuple[str, dict[str, list[str]]]:
        save_drawing(page, ONE, 1)
        save_drawing(page, SEVEN, 7)
        key = session_key(page)
        version = store_version(f"personal-{key[:8]}.pt", settings.BASE_MODEL_CHECKPOINT, owner=key,
                                parent=active_model_version, trained_on=2, gate_passed=True,
                                metrics={"held_out": held_out({"7": (1, 1.0, 1.0)})})
        personal_model_promote(visitor=Visitor(key), version=version)
        TrainingRun.objects.create(session_key=key, parent=active_model_version, result=version,
                                   status=TrainingRun.Status.SUCCEEDED, progress=1.0, finished=timezone.now(),
                                   history=[{"epoch": 1, "train_loss": 0.4, "train_accuracy": 0.9}],
                                   metrics={"trained_on": 2, "gate": "ok", "accepted": True})
        files = {"default": [name for sample in Sample.objects.filter(session_key=key)
                             for name in (sample.drawing.name, sample.digit.name)],
                 "models": [version.weights_name]}
        open_page_with_samples(page, page.url)
        return key, files

    return give


def test_delete_all_my_data_asks_inline_then_nothing_of_the_session_is_left_in_the_database_or_storage(
        samples_page: Page, kept_data, make_sample, active_model_version):
    page = samples_page
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    expect(page.locator("#my-data")).to_be_hidden()   # a new visitor: nothing kept, nothing to delete
    someone_else = make_sample(session_key="o" * 32, label=3)
    key, files = kept_data(page)
    assert all(storages[storage].exists(name) for storage, names in files.items() for name in names)
    expect(page.locator("#my-data-summary")).to_have_text(
        "Kept on this site for you: 2 samples, your model and 1 training run.")
    expect(model_line(page)).to_have_text(re.compile(r"^Your model #\d+"))
    expect(page.locator("#train-outcome")).to_be_visible()

    page.set_viewport_size({"width": 1280, "height": 800})
    shot(page.locator("#my-data"), "my-data-button")
    delete_button(page).click()
    expect(question(page)).to_have_text(QUESTION)
    expect(page.get_by_role("button", name="Keep")).to_be_focused()
    shot(page.locator(".samples__saved"), "my-data-confirmation")
    shot(page, "desktop-my-data-confirmation")   # the viewport: what a person sees there
    page.get_by_role("button", name="Delete everything").click()

    expect(page.locator("#my-data-status")).to_have_text("All your data was deleted.")
    expect(page.get_by_role("status").filter(has_text="All your data was deleted.")).to_be_visible()
    expect(question(page)).to_have_count(0)
    expect(delete_button(page)).to_be_hidden()   # nothing left to delete
    expect(page.locator("#my-data")).to_be_focused()
    # The empty state, in place: no samples, the shared model, no training run.
    expect(thumbnails(page)).to_have_count(0)
    expect(page.locator("#samples-empty")).to_be_visible()
    expect(page.locator("#samples-total")).to_have_text("None yet")
    expect(page.locator(".counts__item.is-zero")).to_have_count(10)
    expect(model_line(page)).to_have_text(re.compile(rf"^Shared model v{active_model_version.pk}\b"))
    expect(page.locator("#model-controls")).to_be_hidden()
    expect(page.locator("#train-outcome")).to_be_hidden()
    expect(page.locator("#train-run")).to_be_hidden()
    expect(page.locator("#train-steps")).to_be_visible()
    expect(page.locator("#train-reason")).to_have_text("Save a few labelled drawings first")
    shot(page.locator(".samples__saved"), "my-data-deleted")

    assert not Sample.objects.filter(session_key=key).exists()
    assert not ModelVersion.objects.filter(owner=key).exists() and not PersonalModel.objects.exists()
    assert not TrainingRun.objects.filter(session_key=key).exists()
    assert not Session.objects.filter(session_key=key).exists()
    assert not any(storages[storage].exists(name) for storage, names in files.items() for name in names)
    assert "sessionid" not in {cookie["name"] for cookie in page.context.cookies()}
    # Nobody else's: another visitor's sample and its files, and the shared model.
    assert Sample.objects.get() == someone_else and default_storage.exists(someone_else.drawing.name)
    assert ModelVersion.objects.filter(pk=active_model_version.pk, is_active=True).exists()
    assert dialogs == []

    save_drawing(page, ONE, 1)   # the page goes on working, in a session of its own
    assert session_key(page) != key and Sample.objects.filter(session_key=session_key(page)).count() == 1
    expect(page.locator("#my-data-summary")).to_have_text("Kept on this site for you: 1 sample.")
    expect(page.locator("#my-data-status")).to_be_empty()
    expect(delete_button(page)).to_be_visible()


def test_keep_and_escape_say_no_and_delete_nothing(samples_page: Page):
    page = samples_page
    save_drawing(page, ONE, 1)
    key = session_key(page)
    delete_button(page).click()
    expect(question(page)).to_have_text("Delete your 1 sample? This cannot be undone.")
    expect(delete_button(page)).to_be_hidden()
    page.get_by_role("button", name="Keep").click()
    expect(question(page)).to_have_count(0)
    expect(delete_button(page)).to_be_focused()

    page.keyboard.press("Enter")   # the button, from the keyboard
    expect(page.get_by_role("button", name="Keep")).to_be_focused()
    page.keyboard.press("Escape")
    expect(question(page)).to_have_count(0)
    expect(delete_button(page)).to_be_focused()

    expect(thumbnails(page)).to_have_count(1)
    expect(page.locator("#my-data-status")).to_be_empty()
    assert Sample.objects.filter(session_key=key).count() == 1 and Session.objects.filter(session_key=key).exists()


def test_a_deletion_that_fails_says_why_and_can_be_tried_again(samples_page: Page, live_server):
    page = samples_page
    save_drawing(page, ONE, 1)

    def drop_deletes(route) -> None:
        if route.request.method == "DELETE":
            route.abort()
        else:
            route.continue_()

    page.route(re.compile(r"/api/me/?$"), drop_deletes)
    delete_button(page).click()
    page.get_by_role("button", name="Delete everything").click()
    expect(page.locator("#my-data-status")).to_have_text(
        "Your data could not be deleted: Could not reach the server — check the connection and try again.")
    expect(question(page)).to_be_visible()   # still asked, to try again
    expect(thumbnails(page)).to_have_count(1)
    assert Sample.objects.count() == 1

    page.unroute(re.compile(r"/api/me/?$"))
    page.get_by_role("button", name="Delete everything").click()
    expect(page.locator("#my-data-status")).to_have_text("All your data was deleted.")
    expect(thumbnails(page)).to_have_count(0)
    assert not Sample.objects.exists()


def test_the_question_and_the_outcome_have_no_serious_accessibility_violations(
        browser, live_server, active_model_version):
    context = browser.new_context(bypass_csp=True)   # axe goes in as an inline script, which the site's CSP refuses
    page = open_page_with_samples(context.new_page(), live_server.url)
    save_drawing(page, ONE, 1)
    expect(delete_button(page)).to_be_visible()
    assert severe_violations(page) == []
    delete_button(page).click()
    expect(question(page)).to_be_visible()
    assert severe_violations(page) == []
    page.get_by_role("button", name="Delete everything").click()
    expect(page.locator("#my-data-status")).to_have_text("All your data was deleted.")
    assert severe_violations(page) == []
    context.close()


def test_on_a_phone_the_question_fits_and_works_by_touch(browser, live_server, active_model_version):
    context = browser.new_context(viewport={"width": 375, "height": 812}, has_touch=True, is_mobile=True,
                                  device_scale_factor=2)
    page = open_page_with_samples(context.new_page(), live_server.url)
    draw_with_finger(page, SEVEN)
    expect(page.locator("#result-body")).to_be_visible()
    page.wait_for_timeout(1000)   # a tap right after a touch gesture makes no click (see test_samples.py)
    page.get_by_role("button", name="Save as 7", exact=True).tap()
    expect(thumbnails(page)).to_have_count(1)

    delete_button(page).tap()
    expect(question(page)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    card, box = page.locator(".pad").bounding_box(), page.locator("#my-data .confirm").bounding_box()
    assert card["x"] < box["x"] and box["x"] + box["width"] < card["x"] + card["width"]
    page.locator("#my-data").scroll_into_view_if_needed()
    shot(page, "phone-my-data-confirmation")   # the viewport: what a person sees there

    page.get_by_role("button", name="Delete everything").tap()
    expect(page.locator("#my-data-status")).to_have_text("All your data was deleted.")
    expect(thumbnails(page)).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    shot(page, "phone-my-data-deleted")
    context.close()
