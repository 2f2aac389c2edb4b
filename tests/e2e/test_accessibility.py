"""The drawing page for people who do not use a mouse, or see less contrast (WCAG 2.1 level A and AA contrast):
single-key shortcuts act only where they belong, and text and controls are readable."""

import pytest
from playwright.sync_api import Page, expect

from recognizer.models import Sample

from .helpers import INKED_PIXELS, ONE, SEVEN, draw_with_mouse, expect_idle, expect_prediction, thumbnails

pytestmark = pytest.mark.e2e

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


def inked_pixels(page: Page) -> int:
    return page.evaluate(f"({INKED_PIXELS})()")


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


# ---- Contrast (WCAG 1.4.3, 1.4.11) ----

def test_zero_counts_and_unavailable_buttons_are_readable(samples_page: Page):
    page = samples_page
    unavailable = page.locator(".button[aria-disabled=true]:visible")
    assert unavailable.count() >= 15   # Undo, Clear, Predict, the ten labels, Undo last save, Clear all, Train
    texts = [page.locator("#sample-counts .counts__item.is-zero .counts__n").first, *unavailable.all()]
    ratios = {f"{text.get_attribute('id') or text.get_attribute('aria-label') or text.inner_text()}":
              round(text.evaluate(CONTRAST), 2) for text in texts}
    assert {name: ratio for name, ratio in ratios.items() if ratio < 4.5} == {}
