"""The drawing page in headless Chromium against the live site and the real trained base model.

Drawings are made with real input: the mouse on desktop, and touches sent through the DevTools protocol on a
phone, which Chromium turns into Pointer Events with pointerType "touch", exactly as a finger would.
"""

import base64
import io
import re

import pytest
from PIL import Image
from playwright.sync_api import Error, Page, expect

from recognizer.tests.drawings import draw, encode

from .helpers import (
    CROSSED_SEVEN, DOT, FLAGGED_ONE, HASH, HOUSE, NINE, ONE, ONE_OR_SEVEN, OPEN_FOUR, SEVEN, SEVEN_TWO_STROKES,
    SLASHED_ZERO, draw_with_finger, draw_with_mouse, draw_with_pauses, enforce_strict_csp, expect_idle,
    expect_prediction, hold_next, open_drawing_page, pad_point, resting, shot,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def drawing_page(page: Page, live_server, active_model_version) -> Page:
    return open_drawing_page(page, live_server.url)


def test_a_drawn_one_is_recognised_and_explained_under_a_strict_csp(page: Page, live_server, active_model_version):
    violations = enforce_strict_csp(page, live_server.url + "/")
    open_drawing_page(page, live_server.url + "/")
    expect(page.get_by_role("img", name=re.compile("Drawing pad"))).to_be_visible()
    expect(page.locator("#result-idle")).to_contain_text("Draw a digit from 0 to 9")

    draw_with_mouse(page, ONE)

    expect_prediction(page, 1)
    bars = page.locator("#probability-bars > li")
    expect(bars).to_have_count(10)
    probabilities = [float(p) for p in bars.evaluate_all("rows => rows.map(row => row.dataset.probability)")]
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-3)
    assert probabilities.index(max(probabilities)) == 1
    expect(page.locator("#probability-bars > li.is-winner")).to_have_attribute("data-digit", "1")
    expect(bars.nth(1)).to_have_attribute("aria-label", re.compile(r"^1: \d{1,3}\.\d\s%"))
    expect(page.locator("#confidence-text")).to_have_text(re.compile(r"^\d{1,3}\.\d\s%$"))
    expect(page.locator("#network-input")).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    expect(page.locator("[aria-live=polite]")).to_have_text(re.compile(r"Looks like a 1 \(\d+\.\d\s% sure\)"))
    expect(page.locator("#model-line-text")).to_have_text(
        re.compile(rf"^Shared model v{active_model_version.pk} · MNIST test accuracy \d+\.\d\d\s%$"))
    expect(page.locator("#model-controls")).to_be_hidden()   # no model of its own to switch to
    assert violations == []


@pytest.mark.parametrize("strokes, digit", [(FLAGGED_ONE, 1), (CROSSED_SEVEN, 7), (OPEN_FOUR, 4), (SLASHED_ZERO, 0)],
                         ids=["flagged-1", "crossed-7", "open-4", "slashed-0"])
def test_handwriting_styles_mnist_lacks_are_read_right(drawing_page: Page, strokes, digit):
    draw_with_mouse(drawing_page, strokes)
    expect_prediction(drawing_page, digit)


def test_a_drawing_between_two_digits_names_the_other_one_too(drawing_page: Page):
    draw_with_mouse(drawing_page, SEVEN)
    expect(drawing_page.locator("#result-digit")).to_have_text("7")
    expect(drawing_page.locator("#confidence-verdict")).to_have_text("Confident")
    drawing_page.keyboard.press("Escape")
    draw_with_mouse(drawing_page, ONE_OR_SEVEN)
    expect(drawing_page.locator("#confidence-verdict")).to_have_text(re.compile(r"could also be a [17]$"))
    digit = drawing_page.locator("#result-digit").inner_text()
    other = drawing_page.locator("#confidence-verdict").inner_text()[-1]
    assert {digit, other} == {"1", "7"}
    expect(drawing_page.locator("[aria-live=polite]")).to_have_text(re.compile(rf"It could also be a {other}\.$"))


def test_undo_and_clear_return_to_the_idle_state(drawing_page: Page):
    page = drawing_page
    draw_with_mouse(page, SEVEN_TWO_STROKES)
    expect_prediction(page, 7)
    expect(page.locator("#stroke-count")).to_have_text("2 strokes")

    page.get_by_role("button", name="Undo", exact=True).click()
    expect(page.locator("#stroke-count")).to_have_text("1 stroke")
    expect(page.locator("#result-body")).to_be_visible()   # one stroke left, so still a prediction

    page.get_by_role("button", name="Clear", exact=True).click()
    expect_idle(page)
    draw_with_mouse(page, ONE)
    expect_prediction(page, 1)
    page.get_by_role("button", name="Undo", exact=True).click()
    expect_idle(page)
    expect(page.locator("[aria-live=polite]")).to_have_text("Drawing cleared.")   # not the last answer


def test_a_digit_key_pressed_mid_stroke_asks_to_finish_the_stroke(drawing_page: Page):
    page = drawing_page
    box = page.locator("#pad-canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.8, steps=8)
    page.keyboard.press("1")
    expect(page.locator("#save-status")).to_have_text("Finish the stroke first, then pick its label.")
    page.mouse.up()


def test_a_prediction_with_no_answer_gives_up_with_a_message(drawing_page: Page):
    page = drawing_page
    page.route(re.compile(r"/api/predict$"), lambda route: None)   # held: never answered
    draw_with_mouse(page, ONE)
    expect(page.locator("#result-message")).to_contain_text("did not answer in time", timeout=20_000)


def test_a_proxys_refusal_without_the_apis_words_is_explained_by_its_status(drawing_page: Page):
    page = drawing_page
    page.route(re.compile(r"/api/predict$"), lambda route: route.fulfill(
        status=429, content_type="text/html", body="<html><body>429 Too Many Requests</body></html>"))
    draw_with_mouse(page, ONE)
    expect(page.locator("#result-message")).to_contain_text("Too many requests in a short time")


def test_a_single_dot_gets_a_friendly_message_instead_of_a_prediction(drawing_page: Page):
    page = drawing_page
    draw_with_mouse(page, DOT)
    expect(page.locator("#result-message")).to_contain_text("only a dot of ink", timeout=2000)
    expect(page.locator("#result-body")).to_be_hidden()


def test_without_an_active_model_the_page_says_so(page: Page, live_server, active_model_version):
    active_model_version.is_active = False
    active_model_version.save(update_fields=["is_active"])
    open_drawing_page(page, live_server.url)
    expect(page.locator(".notice")).to_contain_text("No model is active")

    draw_with_mouse(page, ONE)

    expect(page.locator("#result-message")).to_contain_text("No model is active yet")
    expect(page.locator("#result-body")).to_be_hidden()
    expect(page.locator("#result-status")).to_be_hidden()   # no spinner left behind


def posted_image(request) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(request.post_data_json["image"].split(",", 1)[1])))


def test_on_a_phone_the_pad_fits_and_a_finger_draws(browser, live_server, active_model_version):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                                  device_scale_factor=3)
    page = open_drawing_page(context.new_page(), live_server.url)
    posted = []
    page.on("request", lambda request: posted.append(request) if request.url.endswith("/api/predict") else None)
    page.evaluate("""() => { window.pointerTypes = [];
      document.getElementById("pad-canvas").addEventListener("pointerdown", e => pointerTypes.push(e.pointerType)); }""")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    box = page.locator("#pad-canvas").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["width"] >= 280

    draw_with_finger(page, SEVEN)

    expect_prediction(page, 7)
    assert page.evaluate("pointerTypes") == ["touch"]
    # The pad is drawn sharp at 3 device pixels per CSS pixel, but what is sent is the strokes at 280 px.
    assert page.evaluate("document.getElementById('pad-canvas').width") >= 3 * 280
    image = posted_image(posted[-1])
    assert (image.format, image.size, image.mode) == ("PNG", (280, 280), "RGBA")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    card = page.locator(".pad").bounding_box()
    for button in page.locator(".pad button:visible").all():   # nothing spills out of the card on a small phone
        box = button.bounding_box()
        assert card["x"] < box["x"] and box["x"] + box["width"] < card["x"] + card["width"]
    context.close()


def test_on_a_phone_held_sideways_the_pad_its_buttons_and_the_answer_fit_without_scrolling(
        browser, live_server, active_model_version):
    context = browser.new_context(viewport={"width": 844, "height": 390}, has_touch=True, is_mobile=True,
                                  device_scale_factor=3)
    page = open_drawing_page(context.new_page(), live_server.url)
    expect(page.get_by_role("heading", name="Draw a digit")).to_have_count(1)   # hidden only from sight
    draw_with_finger(page, SEVEN)
    expect_prediction(page, 7)
    assert page.evaluate("scrollY") == 0
    for part in ("#pad-canvas", "#predict-button", "#result-digit"):
        box = page.locator(part).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 390, part
    assert page.locator("#pad-canvas").bounding_box()["width"] >= 180   # still a pad a finger can draw on
    context.close()


def test_keyboard_shortcuts_undo_clear_and_predict(drawing_page: Page):
    page = drawing_page
    for key in ["u", "Control+z", "c", "Escape"]:
        draw_with_mouse(page, ONE)
        expect_prediction(page, 1)
        page.keyboard.press(key)
        expect_idle(page)

    draw_with_mouse(page, ONE)
    expect_prediction(page, 1)
    for key in ["p", "Enter"]:
        with page.expect_response(re.compile(r"/api/predict$")) as answer:
            page.keyboard.press(key)
        assert answer.value.ok


def test_an_answer_that_arrives_after_clear_is_ignored(drawing_page: Page):
    page = drawing_page
    held = []
    page.route(re.compile(r"/api/predict$"), lambda route: held.append(route))
    with page.expect_request(re.compile(r"/api/predict$")):
        draw_with_mouse(page, ONE)
    page.keyboard.press("Escape")
    for route in held:
        try:
            route.continue_()
        except Error:
            pass  # the page already aborted it: also fine
    page.wait_for_timeout(500)
    expect_idle(page)


def test_focus_moves_from_the_pad_to_the_buttons(drawing_page: Page):
    page = drawing_page
    page.locator("#pad-canvas").focus()
    order = []
    for _ in range(3):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id"))
    assert order == ["undo-button", "clear-button", "predict-button"]


@pytest.mark.parametrize("strokes", [HASH, HOUSE], ids=["hash", "house"])
def test_a_drawing_that_is_no_digit_is_said_so_plainly_with_the_guess_faded(drawing_page: Page, strokes):
    draw_with_mouse(drawing_page, strokes)
    body = drawing_page.locator("#result-body")
    expect(body).to_have_attribute("data-verdict", "not_a_digit")
    expect(drawing_page.locator("#result-digit-label")).to_have_text("That doesn\u2019t look like a digit")
    expect(drawing_page.locator("#confidence-verdict")).to_contain_text("save it with its label")
    expect(drawing_page.locator("#confidence-unit")).to_have_text(re.compile(r"^that it is a \d, if a digit at all$"))
    expect(drawing_page.locator("#confidence-verdict")).not_to_contain_text("Confident")
    expect(drawing_page.locator("#pad-guess")).to_have_text("Not a digit?")
    expect(drawing_page.locator("[aria-live=polite]")).to_have_text(
        re.compile(r"^That doesn\u2019t look like a digit\. Best guess: \d\.$"))
    digit = drawing_page.locator("#result-digit")
    faded, ink = digit.evaluate("e => getComputedStyle(e).color"), drawing_page.locator(".intro__text").evaluate(
        "e => getComputedStyle(e).color")
    assert faded != ink  # the guess is shown in the quiet colour, not as an answer
    shot(drawing_page.locator("#result"), f"not-a-digit-{len(strokes)}")
    drawing_page.keyboard.press("Escape")
    draw_with_mouse(drawing_page, SEVEN)  # and a digit afterwards is an answer again
    expect(body).to_have_attribute("data-verdict", "digit")
    expect(drawing_page.locator("#result-digit-label")).to_have_text("Most likely digit")
    expect(drawing_page.locator("#confidence-unit")).to_have_text("confidence")


# ---- Only the newest reading of the drawing on the pad is shown and suggested (issue 26) ----

def suggested(page: Page):
    return page.locator("#label-buttons .label-button.is-suggested")


def test_a_late_answer_about_an_earlier_drawing_is_never_shown_or_suggested(drawing_page: Page):
    page = drawing_page
    bar, diagonal = SEVEN_TWO_STROKES
    release = hold_next(page, "/api/predict")
    draw_with_mouse(page, [bar])   # its reading is held back
    page.mouse.move(*pad_point(page, diagonal[0]))
    page.mouse.down()   # the 7's second stroke begun, the pen still: now the reading of the bar alone arrives
    release()
    expect(page.locator("#result-body")).to_be_hidden()
    expect(page.locator("#pad-guess")).to_be_hidden()
    expect(suggested(page)).to_have_count(0)
    page.mouse.move(*pad_point(page, diagonal[1]), steps=12)
    page.mouse.up()
    expect_prediction(page, 7)
    expect(suggested(page)).to_have_attribute("data-label", "7")

    page.keyboard.press("Escape")
    draw_with_pauses(page, resting(NINE, 0, 5))   # the loop alone is read first, while the pen rests
    expect_prediction(page, 9)
    expect(suggested(page)).to_have_attribute("data-label", "9")


def test_an_answer_about_the_drawing_before_undo_is_never_shown(drawing_page: Page):
    page = drawing_page
    bar, diagonal = SEVEN_TWO_STROKES
    draw_with_mouse(page, [bar])
    expect(page.locator("#result-body")).to_be_visible()
    release = hold_next(page, "/api/predict")
    draw_with_mouse(page, [diagonal])   # the 7: its reading is held back
    with page.expect_response(re.compile(r"/api/predict$")) as again:
        page.get_by_role("button", name="Undo", exact=True).click()
    release()   # the 7's reading comes after the bar's

    answer = again.value.json()
    expect(page.locator("#stroke-count")).to_have_text("1 stroke")
    expect_prediction(page, answer["digit"])
    expect(page.locator("#network-input")).to_have_attribute("src", answer["preprocessed"])   # the bar's
    if answer["verdict"] == "not_a_digit":
        expect(suggested(page)).to_have_count(0)
    else:
        expect(suggested(page)).to_have_attribute("data-label", str(answer["digit"]))


def test_a_pictures_reading_is_not_overwritten_by_a_late_reading_of_the_drawing_it_replaced(
        drawing_page: Page, tmp_path):
    page = drawing_page
    picture = tmp_path / "seven.jpg"   # a 7 on paper
    picture.write_bytes(encode(draw(size=(360, 300), mode="RGB", background=(250, 250, 246), ink=(30, 30, 40)),
                               "JPEG"))
    release = hold_next(page, "/api/predict")
    draw_with_mouse(page, ONE)   # its reading is held back
    page.get_by_label("Upload a picture of a digit").set_input_files(picture)
    expect_prediction(page, 7)
    release()   # the reading of the 1 the picture replaced

    expect_prediction(page, 7)
    expect(page.locator("#stroke-count")).to_have_text("Picture")
    expect(suggested(page)).to_have_attribute("data-label", "7")
