"""The drawing page on a laptop's screen (1280x800, 1366x768) and a phone's, and the words it uses: while the pad is
in view its label buttons and what they did are too; Train keeps its progress in view with focus on it; what
happens to a dropped or drawn-over picture is said at the pad; a person's models are their #1, #2; Undo takes
back only this page's saves; thumbnails are named in words; a confidence reads the same everywhere."""

import json
import re

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from recognizer.models import Sample
from recognizer.tests.drawings import draw, encode
from recognizer.versions import personal_model_promote
from recognizer.visitors import Visitor
from training.models import TrainingRun

from .helpers import (
    ONE, SEVEN, draw_with_mouse, expect_prediction, held_out, model_line, open_page_with_samples, save_drawing,
    session_key, shot, thumbnails,
)

pytestmark = pytest.mark.e2e

LAPTOPS = [pytest.param({"width": 1280, "height": 800}, id="1280x800"),
           pytest.param({"width": 1366, "height": 768}, id="1366x768")]
PHONE = {"width": 375, "height": 812}

# A 7 written on paper and photographed, and a file that is no picture at all, as a browser drops them.
PAPER_SEVEN = encode(draw(size=(360, 300), mode="RGB", background=(250, 250, 246), ink=(30, 30, 40)), "JPEG")
NOT_AN_IMAGE_ERROR = "This is not an image we can read. Send a PNG, JPEG, GIF, WebP or BMP file."
DROPPED = """([name, type, bytes]) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([new Uint8Array(bytes)], name, { type }));
  return transfer;
}"""


def laptop_page(page: Page, url: str, viewport: dict) -> Page:
    page.set_viewport_size(viewport)
    return open_page_with_samples(page, url)


def assert_in_view(page: Page, *selectors: str) -> None:
    """Each element's whole box lies inside the viewport, as the page is scrolled now."""
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    for selector in selectors:
        box = page.locator(selector).bounding_box()
        assert box is not None, f"{selector} is not shown"
        assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width \
            and box["y"] + box["height"] <= height, f"{selector} at {box} is not inside {width}x{height}"


def drop_on_pad(page: Page, name: str, mime: str, data: bytes) -> None:
    files = page.evaluate_handle(DROPPED, [name, mime, list(data)])
    page.locator("#pad-canvas").dispatch_event("dragenter", {"dataTransfer": files})
    page.locator("#pad-canvas").dispatch_event("drop", {"dataTransfer": files})


# ---- In view at laptop sizes ----

@pytest.mark.parametrize("viewport", LAPTOPS)
def test_the_label_buttons_and_what_a_save_did_are_in_view_with_the_pad(
        page: Page, live_server, active_model_version, viewport):
    laptop_page(page, live_server.url, viewport)
    assert_in_view(page, "#pad-canvas", "#label-buttons", "#save-status")
    draw_with_mouse(page, SEVEN)
    expect_prediction(page, 7)
    page.get_by_role("button", name="Save as 7", exact=True).click()

    expect(page.locator("#save-status")).to_have_text("Saved as 7")
    assert page.evaluate("scrollY") == 0   # nothing had to scroll: the pad, the buttons and the news in one screen
    assert_in_view(page, "#pad-canvas", "#label-buttons", "#save-status")
    draw_with_mouse(page, ONE)
    expect_prediction(page, 1)
    shot(page, f"layout-{viewport['width']}x{viewport['height']}")


def test_on_a_phone_the_page_reads_top_to_bottom_pad_tools_then_labels(browser, live_server, active_model_version):
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2)
    page = open_page_with_samples(context.new_page(), live_server.url)
    save_drawing(page, SEVEN, 7)
    draw_with_mouse(page, ONE)
    expect_prediction(page, 1)
    tops = [page.locator(part).bounding_box()["y"] for part in ("#pad-canvas", ".pad__tools", "#label-buttons",
                                                                "#upload", "#sample-strip")]
    assert tops == sorted(tops), tops
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    page.locator("#pad-canvas").scroll_into_view_if_needed()
    shot(page, "layout-phone-375x812")
    context.close()


@pytest.mark.parametrize("viewport", LAPTOPS)
def test_pressing_train_keeps_its_progress_in_view_with_focus_on_it(
        page: Page, live_server, active_model_version, settings, viewport):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}   # queued: no worker takes it
    laptop_page(page, live_server.url, viewport)
    save_drawing(page, SEVEN, 7)
    train = page.get_by_role("button", name="Train", exact=True)
    train.evaluate("button => button.scrollIntoView({ block: 'end' })")   # just scrolled into sight, at the bottom
    in_page = "element => element.getBoundingClientRect().top + scrollY"   # where it is on the page, not the screen
    before = train.evaluate(in_page)
    train.click()

    expect(page.locator("#train-live")).to_be_focused()
    expect(page.locator("#train-stage")).to_have_text(re.compile(r"Next in line|Queued|Waiting"))
    assert train.evaluate(in_page) == before   # nothing above it moved: the steps stay
    expect(page.locator("#train-steps")).to_be_visible()
    assert_in_view(page, "#train-button", "#train-progress", "#train-stage")
    shot(page, f"layout-training-{viewport['width']}x{viewport['height']}")


# ---- Pictures: said at the pad ----

@pytest.mark.parametrize("viewport", LAPTOPS)
def test_a_refused_file_dropped_on_the_pad_is_said_at_the_pad(page: Page, live_server, active_model_version,
                                                              viewport):
    laptop_page(page, live_server.url, viewport)
    drop_on_pad(page, "notes.png", "image/png", b"just some words")

    expect(page.locator("#pad-status")).to_have_text(NOT_AN_IMAGE_ERROR)
    expect(page.locator("[aria-live=polite]")).to_have_text(NOT_AN_IMAGE_ERROR)
    assert_in_view(page, "#pad-canvas", "#pad-status")
    expect(page.locator("#upload-status")).to_be_empty()
    draw_with_mouse(page, ONE)
    expect(page.locator("#pad-status")).to_be_empty()   # about an earlier file: gone once the pad changes


def test_drawing_over_a_picture_says_so_and_undo_brings_the_picture_back(page: Page, live_server,
                                                                          active_model_version):
    laptop_page(page, live_server.url, LAPTOPS[1].values[0])
    drop_on_pad(page, "paper.jpg", "image/jpeg", PAPER_SEVEN)
    expect_prediction(page, 7)
    expect(page.locator("#stroke-count")).to_have_text("Picture")

    draw_with_mouse(page, ONE)
    expect_prediction(page, 1)
    expect(page.locator("#pad-status")).to_have_text("Your drawing replaced the picture — Undo brings it back.")
    assert_in_view(page, "#pad-canvas", "#pad-status", "#undo-button")
    page.get_by_role("button", name="Undo", exact=True).click()

    expect(page.locator("#stroke-count")).to_have_text("Picture")
    expect_prediction(page, 7)
    expect(page.locator("#pad-status")).to_have_text("The picture is back.")
    page.get_by_role("button", name="Save as 7", exact=True).click()   # the picture is what is saved
    expect(thumbnails(page)).to_have_count(1)
    assert Sample.objects.get().label == 7


# ---- Words a person uses ----

def test_your_first_model_is_your_model_number_1_and_the_next_one_number_2(
        page: Page, live_server, active_model_version, store_version):
    open_page_with_samples(page, live_server.url)
    save_drawing(page, ONE, 1)
    key = session_key(page)

    def promoted(n: int):
        version = store_version(f"personal-{n}-{key[:8]}.pt", settings.BASE_MODEL_CHECKPOINT, owner=key,
                                parent=active_model_version, trained_on=46, gate_passed=True,
                                metrics={"held_out": held_out({"7": (3, 2 / 3, 1.0)})})
        personal_model_promote(visitor=Visitor(key), version=version)
        return version

    first = promoted(1)
    assert first.pk > 1   # site-wide numbers: the shared model came first
    open_page_with_samples(page, page.url)
    expect(model_line(page)).to_have_text("Your model #1, trained on 46 of your drawings")
    expect(model_line(page)).to_have_attribute("title", f"Model version {first.pk}")   # the id, for staff

    second = promoted(2)
    TrainingRun.objects.create(session_key=key, parent=active_model_version, status=TrainingRun.Status.SUCCEEDED,
                               progress=1.0, finished=timezone.now(), result=second,
                               metrics={"held_out": held_out({"7": (3, 2 / 3, 1.0)}), "trained_on": 46})
    open_page_with_samples(page, page.url)
    expect(model_line(page)).to_have_text("Your model #2, trained on 46 of your drawings")
    expect(page.locator("#train-outcome-title")).to_have_text("Your model #2 now reads your drawings")
    state = json.loads(page.evaluate("fetch('/api/model').then(r => r.text())"))
    assert state["personal"]["number"] == 2 and state["personal"]["version"] == second.pk   # both kept
    run = json.loads(page.evaluate("fetch('/api/train').then(r => r.text())"))["run"]
    assert run["model_number"] == 2 and run["model_version"] == second.pk


def test_undo_last_save_takes_back_only_this_pages_saves(samples_page: Page):
    page = samples_page
    undo = page.get_by_role("button", name="Undo last save")
    save_drawing(page, SEVEN, 7)
    open_page_with_samples(page, page.url)   # another visit
    expect(thumbnails(page)).to_have_count(1)
    expect(undo).to_have_attribute("aria-disabled", "true")   # the 7 was saved on the earlier visit
    undo.click(force=True)
    expect(thumbnails(page)).to_have_count(1)

    save_drawing(page, ONE, 1)
    expect(undo).to_have_attribute("aria-disabled", "false")
    undo.click()
    expect(page.locator("#save-status")).to_have_text("Undid the last save (label 1).")
    expect(thumbnails(page)).to_have_count(1)
    assert list(Sample.objects.values_list("label", flat=True)) == [7]
    expect(undo).to_have_attribute("aria-disabled", "true")


def test_a_thumbnail_is_named_by_its_digit_and_when_it_was_saved_not_by_its_database_id(samples_page: Page):
    page = samples_page
    save_drawing(page, SEVEN, 7)
    save_drawing(page, SEVEN, 1)   # a 7 labelled 1
    newest, oldest = thumbnails(page).first, thumbnails(page).last
    expect(oldest.get_by_role("img")).to_have_attribute("alt", "Your 7, saved 1st; the model read it right")
    expect(newest.get_by_role("img")).to_have_attribute("alt", "Your 1, saved 2nd; the model said 7")
    newest.hover()
    page.get_by_role("button", name="Delete your 7 saved 1st").click()
    expect(thumbnails(page)).to_have_count(1)
    expect(thumbnails(page).first.get_by_role("img")).to_have_attribute("alt", "Your 1, saved 1st; the model said 7")


def test_a_confidence_reads_the_same_on_the_pads_tag_in_the_result_and_in_words(browser, live_server,
                                                                                 active_model_version):
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()

    def nearly_sure(route) -> None:   # 99.96 %: one rounding says 99.9 % everywhere, never 100 % anywhere
        response = route.fetch()
        body = response.json()
        body["confidence"] = 0.9996
        body["probabilities"][body["digit"]] = 0.9996
        route.fulfill(response=response, body=json.dumps(body))

    page.route(re.compile(r"/api/predict$"), nearly_sure)
    open_page_with_samples(page, live_server.url)
    draw_with_mouse(page, SEVEN)
    expect_prediction(page, 7)
    expect(page.locator("#pad-guess")).to_have_text("Looks like 7 · 99.9\u00a0%")
    expect(page.locator("#confidence-text")).to_have_text("99.9\u00a0%")
    expect(page.locator('#probability-bars [data-digit="7"] .bars__value')).to_have_text("99.9\u00a0%")
    expect(page.locator("[aria-live=polite]")).to_have_text(re.compile(r"^Looks like a 7 \(99\.9\u00a0% sure\)"))
    context.close()
