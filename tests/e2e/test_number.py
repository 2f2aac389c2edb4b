"""Number mode on the drawing page: a whole number written on a wide pad, its digits side by side, read by
POST /api/read; each digit's box over the drawing with its confidence, the number, and each digit saved as its
own labelled sample after the person confirms or corrects it.

Drawings are real input (the mouse on desktop, touches on a phone), read by the live site's real base model; the
checks look at the page and at the Sample rows.
"""

import base64
import io
import re

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from recognizer.models import Sample

from .axe import severe_violations
from .helpers import (
    DOT, NINE, ONE, SEVEN, draw_with_mouse, draw_with_pauses, enforce_strict_csp, expect_idle, expect_prediction,
    hold_next, in_a_row, open_page_with_samples, pad_point, resting, shot, thumbnails, write_number,
)

pytestmark = pytest.mark.e2e

PERCENT = r"\d{1,3}\.\d\s%"


def switch_to(page: Page, mode: str) -> None:
    page.get_by_role("button", name=mode.capitalize(), exact=True).click()
    expect(page.locator("#recognizer")).to_have_attribute("data-mode", mode)


def number_page(page: Page, url: str) -> Page:
    open_page_with_samples(page, url)
    expect(page.locator("#recognizer")).to_have_attribute("data-number-ready", "true")
    switch_to(page, "number")
    return page


def label_boxes(page: Page):
    return page.locator("#number-save-digits input")


def pad_shape(page: Page) -> float:
    box = page.locator("#pad-canvas").bounding_box()
    return box["width"] / box["height"]


def sent_image(request) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(request.post_data_json["image"].split(",", 1)[1])))


def expect_seventeen(page: Page) -> None:
    """17 read: the number, two boxes over the drawing, and each digit with its confidence."""
    expect(page.locator("#number-value")).to_have_text("17")
    expect(page.locator("#number-label")).to_have_text("The number")
    expect(page.locator("#pad-boxes .pad__box")).to_have_count(2)
    expect(page.locator("#pad-boxes .pad__tag")).to_have_text([re.compile(rf"^1\?? · {PERCENT}$"),
                                                                re.compile(rf"^7\?? · {PERCENT}$")])
    digits = page.locator("#number-digits > li")
    expect(digits).to_have_count(2)
    expect(digits.locator(".number-digit__value")).to_have_text(["1", "7"])
    expect(digits.locator(".number-digit__confidence")).to_have_text([re.compile(rf"^{PERCENT}$")] * 2)


def test_a_number_written_with_the_mouse_is_read_digit_by_digit_under_a_strict_csp(
        page: Page, live_server, active_model_version):
    problems = enforce_strict_csp(page, live_server.url + "/")
    open_page_with_samples(page, live_server.url + "/")
    digit, number = (page.get_by_role("button", name=name, exact=True) for name in ("Digit", "Number"))
    expect(digit).to_have_attribute("aria-pressed", "true")
    expect(number).to_have_attribute("aria-pressed", "false")
    assert pad_shape(page) == pytest.approx(1, abs=0.01)

    number.click()
    expect(number).to_have_attribute("aria-pressed", "true")
    expect(digit).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_role("heading", name="Write a number", exact=True)).to_be_visible()
    assert pad_shape(page) == pytest.approx(3, abs=0.02)   # a wide pad
    with page.expect_request(re.compile(r"/api/read$")) as read:
        write_number(page, [ONE, SEVEN])

    expect_seventeen(page)
    image = sent_image(read.value)
    assert (image.format, image.size) == ("PNG", (840, 280))   # 280 px high, as wide as the pad's shape
    expect(page.locator("#pad-guess")).to_have_text("Reads 17")
    expect(page.locator("#pad-guess")).to_be_visible()   # in the pad's head: the result card is below the pad
    expect(page.locator("[aria-live=polite]")).to_have_text(
        re.compile(rf"^Reads 17\. 2 digits: 1 \((unsure, )?{PERCENT} sure.*\); 7 \((unsure, )?{PERCENT} sure"))
    expect(label_boxes(page)).to_have_count(2)
    assert [box.input_value() for box in label_boxes(page).all()] == ["1", "7"]   # prefilled with the reading
    expect(page.locator("#result-body")).to_be_hidden()   # the one-digit panel is not shown for a number
    page.locator(".pad").screenshot(path="/tmp/e2e-shots/number-desktop-pad.png")
    page.locator("#result").screenshot(path="/tmp/e2e-shots/number-desktop-result.png")
    shot(page, "number-desktop-page")
    assert problems == []


def test_corrected_digits_are_saved_each_as_its_own_sample_from_the_keyboard(samples_page: Page):
    page = number_page(samples_page, samples_page.url)
    write_number(page, [ONE, SEVEN])
    expect_seventeen(page)

    first, second = label_boxes(page).all()
    expect(first).to_have_attribute("aria-label", "Digit 1 of 2")
    first.focus()
    page.keyboard.press("Tab")   # the next digit's box
    expect(second).to_be_focused()
    page.keyboard.type("4")      # the person meant 4: typing replaces the reading
    expect(second).to_have_value("4")
    expect(second).to_have_class(re.compile(r"\bis-corrected\b"))
    expect(first).not_to_have_class(re.compile(r"\bis-corrected\b"))
    second.focus()
    with page.expect_response(re.compile(r"/api/samples/number$")) as saved:
        page.keyboard.press("Enter")

    assert saved.value.status == 201
    assert saved.value.request.post_data_json["labels"] == "14"
    expect(thumbnails(page)).to_have_count(2)
    assert thumbnails(page).evaluate_all("items => items.map(item => item.dataset.label)") == ["4", "1"]  # newest first
    assert list(Sample.objects.order_by("pk").values_list("label", "predicted")) == [(1, 1), (4, 7)]
    expect(page.locator("#number-save-status")).to_have_text("Saved 14 as 2 samples")
    expect(page.locator("#samples-total")).to_have_text("2 saved")
    expect(page.locator('#sample-counts [data-digit="4"] .counts__n')).to_have_text("1")
    expect_idle(page)   # ready for the next number
    expect(label_boxes(page)).to_have_count(0)
    expect(page.locator("#pad-boxes .pad__box")).to_have_count(0)
    expect(page.locator("#pad-canvas")).to_be_focused()   # the keyboard goes on from the pad

    page.get_by_role("button", name="Undo last save").click()   # takes back the whole number, not one digit
    expect(thumbnails(page)).to_have_count(0)
    expect(page.locator("#number-save-status")).to_have_text("Undid the last save: 2 samples (labels 1, 4).")
    assert not Sample.objects.exists()
    shot(page.locator("#pad-extras"), "number-undo")


def test_a_photo_of_a_written_number_is_read_with_its_boxes_over_the_picture_and_saved(samples_page: Page, tmp_path):
    from training.ml.numbers import iter_numbers

    sample = next(s for s in iter_numbers(3, seed=5, encodings=["jpeg-q75"]) if len(s.label) == 3)
    picture = tmp_path / "number.jpg"
    picture.write_bytes(sample.data)
    page = number_page(samples_page, samples_page.url)
    with page.expect_request(re.compile(r"/api/read$")) as sent:
        page.get_by_label("Upload a picture of a number").set_input_files(picture)

    assert sent.value.headers["content-type"].startswith("multipart/form-data")
    expect(page.locator("#number-value")).to_have_text(sample.label)
    boxes = page.locator("#pad-boxes .pad__box")
    expect(boxes).to_have_count(3)
    canvas = page.locator("#pad-canvas").bounding_box()
    lefts = []
    for box in boxes.all():   # over the picture as the pad shows it, scaled to fit, left to right
        shown = box.bounding_box()
        assert canvas["x"] - 1 <= shown["x"] and shown["x"] + shown["width"] <= canvas["x"] + canvas["width"] + 1
        assert canvas["y"] - 1 <= shown["y"] and shown["y"] + shown["height"] <= canvas["y"] + canvas["height"] + 1
        lefts.append(shown["x"])
    assert lefts == sorted(lefts)
    shot(page.locator(".pad__surface"), "number-photo")

    with page.expect_response(re.compile(r"/api/samples/number$")) as saved:
        page.get_by_role("button", name=re.compile(r"^Save 3 digits")).click()
    assert saved.value.status == 201
    assert [row.label for row in Sample.objects.order_by("pk")] == [int(d) for d in sample.label]


def test_refusals_and_mistakes_are_said_in_plain_words(samples_page: Page, settings):
    page = number_page(samples_page, samples_page.url)
    save = page.get_by_role("button", name=re.compile(r"^Save"))
    expect(save).to_have_attribute("aria-disabled", "true")
    save.click(force=True)   # unavailable (aria-disabled), yet a click says why: nothing on the pad yet
    expect(page.locator("#number-save-status")).to_have_text("Write a number first, then save its digits.")

    draw_with_mouse(page, DOT)   # the API's own words for a drawing it cannot read
    expect(page.locator("#result-message")).to_contain_text(re.compile(r"only a \w+ of ink"))
    expect(page.locator("[aria-live=polite]")).to_contain_text(re.compile(r"only a \w+ of ink"))
    expect(page.locator("#number-body")).to_be_hidden()
    page.keyboard.press("Escape")

    write_number(page, [ONE, SEVEN])
    expect_seventeen(page)
    label_boxes(page).nth(1).fill("")
    save.click()
    expect(page.locator("#number-save-status")).to_have_text("Give digit 2 its label: type the digit you meant, 0 to 9.")
    expect(label_boxes(page).nth(1)).to_be_focused()

    label_boxes(page).nth(1).fill("7")
    settings.MAX_SAMPLES_PER_SESSION = 1   # two digits would pass the session's limit: 429
    save.click()
    status = page.locator("#number-save-status")
    expect(status).to_have_attribute("data-kind", "error")
    expect(status).to_contain_text("would pass the 1 it may keep")
    assert Sample.objects.count() == 0
    expect(page.locator("#number-value")).to_have_text("17")   # the drawing and its reading stay, to try again
    expect(thumbnails(page)).to_have_count(0)


def test_the_mode_is_remembered_and_the_digit_pad_works_as_before(samples_page: Page):
    page = number_page(samples_page, samples_page.url)
    page.reload()
    expect(page.locator("#recognizer")).to_have_attribute("data-number-ready", "true")
    expect(page.locator("#recognizer")).to_have_attribute("data-mode", "number")
    expect(page.get_by_role("button", name="Number", exact=True)).to_have_attribute("aria-pressed", "true")
    assert pad_shape(page) == pytest.approx(3, abs=0.02)
    expect(page.locator(".label-button")).to_have_count(10)
    expect(page.locator("#label-buttons")).to_be_hidden()   # the number's own form saves here
    write_number(page, [ONE, SEVEN])
    expect_seventeen(page)

    page.keyboard.press("1")   # the digit keys save one digit on the square pad only
    page.wait_for_timeout(300)
    assert Sample.objects.count() == 0

    switch_to(page, "digit")   # the pad starts afresh, square again
    expect_idle(page)
    assert pad_shape(page) == pytest.approx(1, abs=0.01)
    expect(page.locator("#pad-boxes .pad__box")).to_have_count(0)
    expect(page.locator("#number-save")).to_be_hidden()
    with page.expect_request(re.compile(r"/api/predict$")) as predicted:
        draw_with_mouse(page, ONE)
    expect_prediction(page, 1)
    assert sent_image(predicted.value).size == (280, 280)
    page.keyboard.press("1")
    expect(thumbnails(page)).to_have_count(1)
    page.reload()
    expect(page.locator("#recognizer")).to_have_attribute("data-number-ready", "true")
    expect(page.locator("#recognizer")).to_have_attribute("data-mode", "digit")
    expect(page.get_by_role("heading", name="Draw a digit", exact=True)).to_be_visible()


def test_on_a_phone_a_finger_writes_a_number_that_fits_and_saves_it(browser, live_server, active_model_version):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                                  device_scale_factor=3)
    page = open_page_with_samples(context.new_page(), live_server.url)
    page.get_by_role("button", name="Number", exact=True).tap()
    expect(page.locator("#recognizer")).to_have_attribute("data-mode", "number")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    box = page.locator("#pad-canvas").bounding_box()
    card = page.locator(".pad").bounding_box()
    assert card["x"] < box["x"] and box["x"] + box["width"] < card["x"] + card["width"]
    assert box["width"] / box["height"] == pytest.approx(2, abs=0.02)   # taller on a phone, for a finger
    assert box["height"] >= 150

    write_number(page, [ONE, SEVEN], finger=True)

    expect_seventeen(page)
    expect(page.locator("#pad-guess")).to_have_text("Reads 17")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    for tag in page.locator("#pad-boxes .pad__tag").all():   # the tags stay on the card
        tag_box = tag.bounding_box()
        assert card["x"] <= tag_box["x"] and tag_box["x"] + tag_box["width"] <= card["x"] + card["width"]
    page.locator(".pad").screenshot(path="/tmp/e2e-shots/number-phone-pad.png")
    page.locator("#result").screenshot(path="/tmp/e2e-shots/number-phone-result.png")
    page.get_by_role("button", name=re.compile(r"^Save 2 digits")).tap()
    expect(thumbnails(page)).to_have_count(2)
    assert sorted(Sample.objects.values_list("label", flat=True)) == [1, 7]
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    context.close()


def test_number_mode_has_no_serious_accessibility_violations(browser, live_server, active_model_version):
    context = browser.new_context(bypass_csp=True)   # axe is added as an inline script
    page = number_page(context.new_page(), live_server.url)
    assert severe_violations(page) == [], "number mode, empty"
    write_number(page, [ONE, SEVEN])
    expect_seventeen(page)
    label_boxes(page).nth(1).fill("4")
    assert severe_violations(page) == [], "a number read, a digit corrected"
    page.get_by_role("button", name=re.compile(r"^Save 2 digits")).click()
    expect(thumbnails(page)).to_have_count(2)
    draw_with_mouse(page, DOT)
    expect(page.locator("#result-message")).to_be_visible()
    assert severe_violations(page) == [], "saved samples and a refusal"
    context.close()


# ---- What a digit's box holds is the newest reading, until the person types in it (issue 26) ----

def expect_read_and_prefilled(page: Page, number: str, typed: dict[int, str] | None = None) -> None:
    """``number`` read and shown as current, and each digit's box holding what it was read as, unmarked, except the
    boxes the person typed in (``typed``: position to what they typed), which keep it, outlined as corrected."""
    typed = typed or {}
    expect(page.locator("#number-value")).to_have_text(number)
    expect(page.locator("#pad-boxes")).not_to_have_class(re.compile(r"\bis-stale\b"))
    expect(page.locator("#pad-boxes .pad__tag")).to_have_text([re.compile(rf"^{d}\?? · ") for d in number])
    expect(page.locator("#number-save-digits .number-save__read")).to_have_text(
        [re.compile(rf"^read {d}\s") for d in number])
    expect(label_boxes(page)).to_have_count(len(number))
    corrected = re.compile(r"\bis-corrected\b")
    for index, (box, digit) in enumerate(zip(label_boxes(page).all(), number)):
        expect(box).to_have_value(typed.get(index, digit))
        if index in typed:
            expect(box).to_have_class(corrected)
        else:
            expect(box).not_to_have_class(corrected)


def save_and_expect_stored(page: Page, labels: str) -> None:
    """Save: exactly what the boxes show is sent, and kept as the samples' labels."""
    with page.expect_response(re.compile(r"/api/samples/number$")) as saved:
        page.get_by_role("button", name=re.compile(r"^Save \d+ digits? as samples$")).click()
    assert saved.value.status == 201
    sent = saved.value.request.post_data_json   # None for a picture: Playwright keeps no multipart body with a file
    assert sent is None or sent["labels"] == labels
    assert [row.label for row in Sample.objects.order_by("pk")] == [int(digit) for digit in labels]


def test_a_number_written_with_the_pen_resting_mid_stroke_keeps_its_newest_reading_and_saves_it(samples_page: Page):
    """The 9's loop alone is read first (the pen rests after it, still pressed); the whole 9 read next must fill its
    box, not be taken for a correction of the loop's reading."""
    page = number_page(samples_page, samples_page.url)
    draw_with_pauses(page, in_a_row([ONE, resting(SEVEN, 0, 1), resting(NINE, 0, 5)], pad_shape(page)))

    expect_read_and_prefilled(page, "179")
    shot(page, "number-resting")
    shot(page.locator("#number-save"), "number-resting-form")
    save_and_expect_stored(page, "179")


def test_a_late_answer_about_the_drawing_before_the_last_stroke_never_fills_the_digits(samples_page: Page):
    page = number_page(samples_page, samples_page.url)
    one, seven, nine = in_a_row([ONE, SEVEN, NINE], pad_shape(page))
    release = hold_next(page, "/api/read")
    draw_with_mouse(page, [one])   # its reading is held back
    page.mouse.move(*pad_point(page, seven[0]))
    page.mouse.down()   # the 7 begun, the pen still: now the reading of the 1 alone arrives
    release()
    expect(page.locator("#pad-boxes .pad__box:not(.is-stale)")).to_have_count(0)
    expect(label_boxes(page)).to_have_count(0)
    expect(page.locator("#number-body")).to_be_hidden()
    for point in seven[1:]:
        page.mouse.move(*pad_point(page, point), steps=12)
    page.mouse.up()
    expect_read_and_prefilled(page, "17")

    page.mouse.move(*pad_point(page, nine[0]))
    page.mouse.down()
    for point in nine[1:6]:   # the 9's loop, and the pen rests: the loop is read as the third digit
        page.mouse.move(*pad_point(page, point), steps=12)
    expect(page.locator("#pad-boxes .pad__box:not(.is-stale)")).to_have_count(3)
    page.mouse.move(*pad_point(page, nine[6]), steps=12)   # on down the tail: that reading is of the stroke before
    expect(page.locator("#pad-boxes")).to_have_class(re.compile(r"\bis-stale\b"))
    page.mouse.move(*pad_point(page, nine[7]), steps=12)
    page.mouse.up()

    expect_read_and_prefilled(page, "179")
    save_and_expect_stored(page, "179")

    release = hold_next(page, "/api/read")   # a reading that comes after the pad was cleared
    draw_with_mouse(page, [one])
    page.keyboard.press("Escape")
    release()
    expect_idle(page)
    expect(label_boxes(page)).to_have_count(0)
    expect(page.locator("#pad-boxes .pad__box")).to_have_count(0)


def test_a_typed_digit_stays_through_later_readings_of_that_digit_and_is_saved(samples_page: Page):
    page = number_page(samples_page, samples_page.url)
    one, seven, nine = in_a_row([ONE, SEVEN, NINE], pad_shape(page))
    draw_with_mouse(page, [one, seven])
    expect_read_and_prefilled(page, "17")
    label_boxes(page).nth(1).fill("4")   # the person meant 4

    draw_with_pauses(page, resting([nine], 0, 5))   # two readings of three digits: the loop's, then the 9's
    expect_read_and_prefilled(page, "179", typed={1: "4"})
    shot(page.locator("#number-save"), "number-typed-form")
    page.get_by_role("button", name="Undo", exact=True).click()   # fewer digits: the 4 stays with its digit
    expect_read_and_prefilled(page, "17", typed={1: "4"})
    save_and_expect_stored(page, "14")


def test_a_pictures_reading_is_not_overwritten_by_a_late_reading_of_the_drawing_it_replaced(
        samples_page: Page, tmp_path):
    from training.ml.numbers import iter_numbers

    sample = next(s for s in iter_numbers(3, seed=5, encodings=["jpeg-q75"]) if len(s.label) == 3)
    picture = tmp_path / "number.jpg"
    picture.write_bytes(sample.data)
    page = number_page(samples_page, samples_page.url)
    one, seven = in_a_row([ONE, SEVEN], pad_shape(page))
    draw_with_mouse(page, [one])
    expect_read_and_prefilled(page, "1")
    label_boxes(page).first.fill("4")   # typed for the drawing: nothing to do with the picture that replaces it
    release = hold_next(page, "/api/read")
    draw_with_mouse(page, [seven])   # its reading is held back
    page.get_by_label("Upload a picture of a number").set_input_files(picture)
    expect_read_and_prefilled(page, sample.label)
    release()   # the reading of the drawing the picture replaced

    expect_read_and_prefilled(page, sample.label)
    expect(page.locator("#stroke-count")).to_have_text("Picture")
    save_and_expect_stored(page, sample.label)
