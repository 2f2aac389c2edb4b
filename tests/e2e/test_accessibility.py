"""The drawing page for people who do not use a mouse, or see less contrast (WCAG 2.1 level A and AA contrast):
single-key shortcuts act only where they belong, a picture can be uploaded or dropped instead of drawn, text and
controls are readable, and axe-core finds no serious or critical violation in any state of the page."""

import re

import pytest
from playwright.sync_api import Page, expect

from recognizer.models import Sample
from recognizer.tests.drawings import draw, encode

from .axe import severe_violations
from .helpers import (
    INKED_PIXELS, ONE, SEVEN, draw_with_mouse, expect_idle, expect_prediction, open_page_with_samples,
    save_drawing, thumbnails,
)

pytestmark = pytest.mark.e2e

# A 7 written on white paper and photographed: an opaque JPEG, nothing like the pad's transparent PNG.
PAPER_SEVEN = encode(draw(size=(360, 300), mode="RGB", background=(250, 250, 246), ink=(30, 30, 40)), "JPEG")
NOT_A_PICTURE = {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"just some words"}
NOT_AN_IMAGE_ERROR = "This is not an image we can read. Send a PNG, JPEG, GIF, WebP or BMP file."
DROP = """([name, bytes]) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([new Uint8Array(bytes)], name, { type: "image/jpeg" }));
  return transfer;
}"""
# The contrast a person sees: text over its background, both faded by the element's opacity (and its ancestors').
CONTRAST = """element => {
  const rgba = (text) => { const [r, g, b, a = 1] = text.match(/[\\d.]+/g).map(Number); return [r, g, b, a]; };
  const over = ([r, g, b, a], [R, G, B]) => [r * a + R * (1 - a), g * a + G * (1 - a), b * a + B * (1 - a), 1];
  const behind = (node) => {   // the opaque colour under a node: its ancestors' backgrounds over white
    const layers = [];
    for (let n = node; n; n = n.parentElement) layers.push(rgba(getComputedStyle(n).backgroundColor));
    return layers.reverse().reduce((under, layer) => over(layer, under), [255, 255, 255, 1]);
  };
  let opacity = 1;
  for (let n = element; n; n = n.parentElement) opacity *= Number(getComputedStyle(n).opacity);
  const below = behind(element.parentElement);
  const background = behind(element);
  const text = over(rgba(getComputedStyle(element).color), background);
  const seen = (colour) => over([...colour.slice(0, 3), opacity], below);
  const luminance = ([r, g, b]) => [r, g, b].map((c) => c / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4))
    .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  const [a, b] = [luminance(seen(text)), luminance(seen(background))].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


@pytest.fixture
def axe_page(browser, live_server, active_model_version) -> Page:
    """The drawing page of a fresh session, open to axe (its inline script, which the site's CSP refuses)."""
    context = browser.new_context(bypass_csp=True)
    yield open_page_with_samples(context.new_page(), live_server.url)
    context.close()


def upload_input(page: Page):
    return page.get_by_label("Upload a picture of a digit")


def inked_pixels(page: Page) -> int:
    return page.evaluate(f"({INKED_PIXELS})()")


def tab_to(page: Page, element_id: str, most: int = 40) -> None:
    """Press Tab until the element has focus, as a keyboard user reaches it."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} is not reached with Tab")


# ---- Single-key shortcuts (WCAG 2.1.4) ----

def test_shortcut_keys_act_only_while_the_pad_or_the_label_buttons_have_focus(samples_page: Page):
    page = samples_page
    draw_with_mouse(page, SEVEN)
    expect_prediction(page, 7)
    inked = inked_pixels(page)
    for elsewhere in (page.get_by_role("button", name="Train", exact=True), page.locator(".brand")):
        elsewhere.focus()
        for key in ("c", "4", "u", "p", "Escape"):
            page.keyboard.press(key)
        page.wait_for_timeout(300)
        assert inked_pixels(page) == inked
        expect(page.locator("#save-status")).to_be_empty()
        expect(thumbnails(page)).to_have_count(0)
    assert Sample.objects.count() == 0

    page.locator("#pad-canvas").focus()
    page.keyboard.press("c")
    expect_idle(page)
    draw_with_mouse(page, SEVEN)   # drawing puts the focus on the pad, so its keys act right after
    expect_prediction(page, 7)
    page.keyboard.press("4")
    expect(thumbnails(page)).to_have_count(1)
    assert list(Sample.objects.values_list("label", flat=True)) == [4]

    draw_with_mouse(page, ONE)
    expect_prediction(page, 1)
    page.get_by_role("button", name="Save as 0", exact=True).focus()   # the label buttons take the digit keys too
    page.keyboard.press("1")
    expect(thumbnails(page)).to_have_count(2)
    expect(thumbnails(page).first).to_have_attribute("data-label", "1")


def test_the_shortcuts_are_listed_beside_the_pad_and_say_where_they_work(samples_page: Page):
    shortcuts = samples_page.locator("#pad-shortcuts")
    expect(shortcuts).to_be_visible()
    expect(shortcuts).to_contain_text("Keys on the pad, its tools and digit buttons:")
    expect(shortcuts).to_contain_text("save as that digit")
    expect(samples_page.locator("#pad-canvas")).to_have_attribute("aria-describedby", "pad-shortcuts")


# ---- A picture instead of a drawing ----

def test_a_picture_chosen_with_the_keyboard_is_read_shown_and_saved_as_a_sample(samples_page: Page, tmp_path):
    page = samples_page
    picture = tmp_path / "seven.jpg"
    picture.write_bytes(PAPER_SEVEN)
    tab_to(page, "upload-input")
    expect(upload_input(page)).to_be_focused()
    with page.expect_request(re.compile(r"/api/predict$")) as sent:
        upload_input(page).set_input_files(picture)

    expect_prediction(page, 7)
    assert sent.value.headers["content-type"].startswith("multipart/form-data")
    expect(page.locator("#network-input")).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    expect(page.locator("[aria-live=polite]")).to_have_text(re.compile(r"^Looks like a 7 \(\d+\.\d\s% sure\)"))
    assert inked_pixels(page) > 10_000   # the picture is on the pad, scaled to fit
    expect(page.locator("#pad-canvas")).to_have_attribute("aria-label", re.compile(r"shows the picture seven\.jpg"))
    page.locator(".pad__surface").screenshot(path="/tmp/a11y-pad-picture.png")

    page.keyboard.press("Shift+Tab")   # the label buttons come just before it, under the pad, and take the digit keys
    expect(page.get_by_role("button", name="Save as 9", exact=True)).to_be_focused()
    with page.expect_request(re.compile(r"/api/samples$")) as saved:
        page.keyboard.press("7")
    expect(thumbnails(page)).to_have_count(1)
    expect(thumbnails(page).first).to_have_attribute("data-label", "7")
    assert saved.value.headers["content-type"].startswith("multipart/form-data")
    sample = Sample.objects.get()
    assert (sample.label, sample.predicted) == (7, 7)
    expect_idle(page)   # ready for the next one


def test_a_picture_dropped_on_the_pad_is_read_and_drawing_replaces_it(samples_page: Page):
    page = samples_page
    files = page.evaluate_handle(DROP, ["dropped.jpg", list(PAPER_SEVEN)])
    page.locator("#pad-canvas").dispatch_event("dragenter", {"dataTransfer": files})
    expect(page.locator("#pad-surface")).to_have_class(re.compile(r"\bis-drop-target\b"))
    page.locator("#pad-canvas").dispatch_event("drop", {"dataTransfer": files})

    expect_prediction(page, 7)
    expect(page.locator("#pad-surface")).not_to_have_class(re.compile(r"\bis-drop-target\b"))
    expect(page.locator("#stroke-count")).to_have_text("Picture")
    draw_with_mouse(page, ONE)
    expect_prediction(page, 1)
    expect(page.locator("#stroke-count")).to_have_text("1 stroke")


def test_a_file_that_is_not_a_picture_gets_the_apis_words_and_leaves_the_drawing(samples_page: Page):
    page = samples_page
    draw_with_mouse(page, ONE)
    expect_prediction(page, 1)
    upload_input(page).set_input_files(NOT_A_PICTURE)

    expect(page.locator("#upload-status")).to_have_text(NOT_AN_IMAGE_ERROR)
    expect(page.locator("[aria-live=polite]")).to_have_text(NOT_AN_IMAGE_ERROR)
    expect(upload_input(page)).to_have_attribute("aria-describedby", re.compile(r"\bupload-status\b"))
    expect(page.locator("#stroke-count")).to_have_text("1 stroke")   # the drawing stays, and its answer
    expect_prediction(page, 1)
    draw_with_mouse(page, ONE)
    expect(page.locator("#upload-status")).to_be_empty()   # about an earlier file: gone once the pad changes


# ---- Contrast (WCAG 1.4.3, 1.4.11) ----

def test_zero_counts_and_unavailable_buttons_are_readable(samples_page: Page):
    page = samples_page
    unavailable = page.locator(".button[aria-disabled=true]:visible")
    assert unavailable.count() >= 15   # Undo, Clear, Predict, the ten labels, Undo last save, Clear all, Train
    texts = [page.locator("#sample-counts .counts__item.is-zero .counts__n").first, *unavailable.all()]
    ratios = {f"{text.get_attribute('id') or text.get_attribute('aria-label') or text.inner_text()}":
              round(text.evaluate(CONTRAST), 2) for text in texts}
    assert {name: ratio for name, ratio in ratios.items() if ratio < 4.5} == {}


# ---- axe-core in every state of the page ----

def test_the_page_has_no_serious_accessibility_violations_in_any_state(axe_page: Page, quick_training):
    page = axe_page
    assert severe_violations(page) == [], "fresh page"
    draw_with_mouse(page, SEVEN)
    expect_prediction(page, 7)
    assert severe_violations(page) == [], "prediction shown"

    page.get_by_role("button", name="Save as 7", exact=True).click()
    expect(page.locator("#sample-strip > li")).to_have_count(1)
    save_drawing(page, ONE, 1)
    assert severe_violations(page) == [], "saved samples"
    draw_with_mouse(page, SEVEN)
    expect(page.locator(".label-button.is-suggested")).to_have_count(1)
    page.get_by_role("button", name="Clear all").click()
    expect(page.locator("#clear-confirm-text")).to_be_visible()
    assert severe_violations(page) == [], "label buttons and the Clear all question"
    page.keyboard.press("Escape")

    page.get_by_role("button", name="Train", exact=True).click()   # trained inside the request (ImmediateBackend)
    expect(page.locator("#train-outcome")).to_be_visible(timeout=30_000)  # a first run reads MNIST features
    assert severe_violations(page) == [], "training outcome"

    upload_input(page).set_input_files(NOT_A_PICTURE)
    expect(page.locator("#upload-status")).to_have_text(NOT_AN_IMAGE_ERROR)
    assert severe_violations(page) == [], "upload error"


# ---- Pictures of the pad for a person to look at ----

@pytest.mark.parametrize("name, viewport, touch", [("desktop", {"width": 1280, "height": 900}, False),
                                                   ("phone", {"width": 390, "height": 844}, True)])
def test_the_upload_control_and_the_shortcuts_fit_the_pad_card(browser, live_server, active_model_version,
                                                                name, viewport, touch):
    context = browser.new_context(viewport=viewport, has_touch=touch, is_mobile=touch, device_scale_factor=2)
    page = open_page_with_samples(context.new_page(), live_server.url)
    upload_input(page).set_input_files(NOT_A_PICTURE)
    expect(page.locator("#upload-status")).to_have_text(NOT_AN_IMAGE_ERROR)
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    card = page.locator(".pad").bounding_box()
    for part in (".upload__button", "#upload-status", "#pad-shortcuts"):
        if not page.locator(part).is_visible():
            assert part == "#pad-shortcuts" and touch   # a touch-only phone has no keys to press
            continue
        box = page.locator(part).bounding_box()
        assert card["x"] < box["x"] and box["x"] + box["width"] < card["x"] + card["width"], part
    tab_to(page, "upload-input")   # its focus ring, in the picture
    page.locator("#upload").scroll_into_view_if_needed()
    page.locator(".pad").screenshot(path=f"/tmp/a11y-pad-{name}.png")
    context.close()
