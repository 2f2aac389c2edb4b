"""What the browser tests share: strokes, real mouse and touch input, waiting for the page, the strict CSP."""

import math
import re
from pathlib import Path

from playwright.sync_api import Error, Page, expect

# Strokes in fractions of the pad's side.
ONE = [[(0.5, 0.18), (0.5, 0.82)]]
SEVEN = [[(0.25, 0.2), (0.75, 0.2), (0.42, 0.85)]]
SEVEN_TWO_STROKES = [[(0.25, 0.2), (0.75, 0.2)], [(0.75, 0.2), (0.42, 0.85)]]
DOT = [[(0.5, 0.5)]]
# Styles MNIST's American writers rarely used, drawn as much of the world writes them.
FLAGGED_ONE = [[(0.32, 0.33), (0.56, 0.14), (0.54, 0.86)]]
CROSSED_SEVEN = [[(0.28, 0.2), (0.72, 0.2), (0.45, 0.84)], [(0.42, 0.52), (0.7, 0.52)]]
OPEN_FOUR = [[(0.32, 0.18), (0.3, 0.56), (0.74, 0.56)], [(0.62, 0.24), (0.62, 0.84)]]
# Halfway between a flagged 1 and a 7: the flag as long as a short bar. The network hesitates between the two.
ONE_OR_SEVEN = [[(0.31, 0.23), (0.56, 0.14), (0.54, 0.86)]]
# An oval drawn anticlockwise from the top, then a slash from bottom left to top right through it.
SLASHED_ZERO = [[(round(0.5 + 0.15 * math.sin(-a), 3), round(0.5 - 0.3 * math.cos(a), 3))
                 for a in (math.radians(d) for d in range(0, 361, 30))],
                [(0.33, 0.86), (0.67, 0.14)]]
# Drawings that are no digit: a hash sign, and a house (a square, its roof and a door).
HASH = [[(0.4, 0.2), (0.34, 0.8)], [(0.64, 0.2), (0.58, 0.8)], [(0.22, 0.4), (0.8, 0.4)], [(0.2, 0.62), (0.78, 0.62)]]
HOUSE = [[(0.25, 0.45), (0.25, 0.85), (0.75, 0.85), (0.75, 0.45), (0.25, 0.45)], [(0.2, 0.48), (0.5, 0.15), (0.8, 0.48)],
         [(0.44, 0.85), (0.44, 0.66), (0.56, 0.66), (0.56, 0.85)]]

# What the later security work will send: no inline script or style anywhere.
STRICT_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
              "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
INKED_PIXELS = """() => {
  const canvas = document.getElementById("pad-canvas");
  const alpha = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;
  for (let i = 3; i < alpha.length; i += 4) if (alpha[i]) count += 1;
  return count;
}"""


# Mouse and touch coordinates are the viewport's: a label button below the fold may have scrolled the pad away.
BRING_PAD_INTO_VIEW = """canvas => {
  const box = canvas.getBoundingClientRect();
  if (box.top < 0 || box.bottom > innerHeight) canvas.scrollIntoView({ block: "center" });
}"""


def draw_with_mouse(page: Page, strokes) -> None:
    page.locator("#pad-canvas").evaluate(BRING_PAD_INTO_VIEW)
    box = page.locator("#pad-canvas").bounding_box()
    for stroke in strokes:
        xs, ys = [box["x"] + x * box["width"] for x, _ in stroke], [box["y"] + y * box["height"] for _, y in stroke]
        page.mouse.move(xs[0], ys[0])
        page.mouse.down()
        for x, y in zip(xs[1:], ys[1:]):
            page.mouse.move(x, y, steps=12)
        page.mouse.up()


def draw_with_finger(page: Page, strokes, steps: int = 12) -> None:
    page.locator("#pad-canvas").evaluate(BRING_PAD_INTO_VIEW)
    cdp = page.context.new_cdp_session(page)
    box = page.locator("#pad-canvas").bounding_box()

    def touch(kind: str, x: float, y: float) -> None:
        point = {"x": box["x"] + x * box["width"], "y": box["y"] + y * box["height"], "radiusX": 4, "radiusY": 4}
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [point]})

    for stroke in strokes:
        touch("touchStart", *stroke[0])
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
            for i in range(1, steps + 1):
                touch("touchMove", x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def expect_idle(page: Page) -> None:
    expect(page.locator("#result-idle")).to_be_visible()
    expect(page.locator("#result-body")).to_be_hidden()
    page.wait_for_function(f"({INKED_PIXELS})() === 0")


def expect_prediction(page: Page, digit: int) -> None:
    expect(page.locator("#result-digit")).to_have_text(str(digit))
    expect(page.locator("#result-body")).to_be_visible()


def open_drawing_page(page: Page, url: str) -> Page:
    page.goto(url)
    expect(page.locator("#recognizer")).to_have_attribute("data-ready", "true")
    expect(page.locator("#recognizer")).to_have_attribute("data-model-ready", "true")
    return page


def open_page_with_samples(page: Page, url: str) -> Page:
    """The drawing page once the session's samples and its latest training run have loaded."""
    open_drawing_page(page, url)
    expect(page.locator("#recognizer")).to_have_attribute("data-samples-ready", "true")
    expect(page.locator("#recognizer")).to_have_attribute("data-train-ready", "true")
    return page


def enforce_strict_csp(page: Page, url: str) -> list[str]:
    """Serve the page at ``url`` with STRICT_CSP; return the list that collects violations and script errors."""
    problems: list[str] = []
    page.on("console", lambda message: "Content Security Policy" in message.text and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))

    def add_csp(route) -> None:
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": STRICT_CSP})

    page.route(url, add_csp)
    return problems


def thumbnails(page: Page):
    return page.locator("#sample-strip > li")


def save_drawing(page: Page, strokes, label: int) -> None:
    """Draw, wait for the prediction, then click the label's button and wait for the new thumbnail."""
    before = thumbnails(page).count()
    draw_with_mouse(page, strokes)
    expect(page.locator("#result-body")).to_be_visible()
    page.get_by_role("button", name=f"Save as {label}", exact=True).click()
    expect(thumbnails(page)).to_have_count(before + 1)
    expect(thumbnails(page).first).to_have_attribute("data-label", str(label))


# ---- Personal models: who read a drawing, and pictures of the page for a person to look at ----

SHOTS = Path("/tmp/e2e-shots")


def jittered(strokes, n: int):
    """The same strokes moved a little (n picks how): drawings of one digit that are not all the same."""
    dx, dy = 0.02 * (n % 3 - 1), 0.015 * ((n + 1) % 3 - 1)
    return [[(round(x + dx, 3), round(y + dy, 3)) for x, y in stroke] for stroke in strokes]


def answers_from(page: Page) -> list[tuple[int, bool]]:
    """(model_version, personal) of every prediction the page gets from now on."""
    answers: list[tuple[int, bool]] = []

    def note(response) -> None:
        if response.url.endswith("/api/predict") and response.ok:
            body = response.json()
            answers.append((body["model_version"], body["personal"]))

    page.on("response", note)
    return answers


def wait_for_answer(page: Page, answers: list[tuple[int, bool]], wanted: tuple[int, bool],
                    timeout_ms: int = 10_000) -> None:
    """Wait until answers_from()'s list holds a prediction by ``wanted`` (model_version, personal)."""
    for _ in range(timeout_ms // 100):
        if wanted in answers:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"no prediction by {wanted}: {answers}")


def session_key(page: Page) -> str:
    return next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "sessionid")


def model_line(page: Page):
    return page.locator("#model-line-text")


def held_out(per_digit: dict[str, tuple[int, float, float]]) -> dict:
    """A run's held_out metrics from {digit: (count, before, after)}."""
    count = sum(n for n, _, _ in per_digit.values())
    return {"count": count,
            "before": sum(n * before for n, before, _ in per_digit.values()) / count,
            "after": sum(n * after for n, _, after in per_digit.values()) / count,
            "per_digit": {digit: {"count": n, "before": before, "after": after}
                          for digit, (n, before, after) in per_digit.items()}}


def shot(target, name: str) -> Path:
    """A screenshot of a page or an element under /tmp/e2e-shots, to look at as a person would."""
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    target.screenshot(path=str(path))
    return path


# ---- Numbers: several digits written side by side on the wide pad ----

def in_a_row(digits, aspect: float, gap: float = 0.3):
    """The strokes of several digits (each in fractions of a square pad) side by side on a pad ``aspect`` times as
    wide as high, centred, ``gap`` pad heights apart: in fractions of the wide pad's width and height."""
    spans = [(min(x for stroke in digit for x, _ in stroke), max(x for stroke in digit for x, _ in stroke))
             for digit in digits]
    left = (aspect - sum(right - first for first, right in spans) - gap * (len(digits) - 1)) / 2
    strokes = []
    for digit, (first, right) in zip(digits, spans):
        strokes += [[(round((x - first + left) / aspect, 4), y) for x, y in stroke] for stroke in digit]
        left += right - first + gap
    return strokes


def write_number(page: Page, digits, finger: bool = False) -> None:
    """Write the digits side by side on the pad as it is shaped now, with the mouse or a finger."""
    box = page.locator("#pad-canvas").bounding_box()
    strokes = in_a_row(digits, box["width"] / box["height"])
    (draw_with_finger if finger else draw_with_mouse)(page, strokes)


# ---- A hand that hesitates, and answers that come late ----

# A 9 in one stroke: the loop anticlockwise from its right side and closed there, then the tail down. The loop
# alone reads as another digit (a 0 or a 6): resting the pen after it gets that reading first.
NINE = [[(0.62, 0.32), (0.5, 0.17), (0.37, 0.28), (0.4, 0.45), (0.56, 0.47), (0.62, 0.32), (0.6, 0.6),
         (0.55, 0.86)]]
PAUSE_MS = 700   # long enough for the page to ask for a live reading and get it


def resting(strokes, stroke: int, after: int):
    """The strokes with the pen resting, still pressed, after point ``after`` of stroke ``stroke``: that point twice."""
    rested = [list(points) for points in strokes]
    rested[stroke].insert(after, rested[stroke][after])
    return rested


def pad_point(page: Page, point) -> tuple[float, float]:
    """A point in fractions of the pad's width and height, in the viewport's pixels."""
    box = page.locator("#pad-canvas").bounding_box()
    return box["x"] + point[0] * box["width"], box["y"] + point[1] * box["height"]


def draw_with_pauses(page: Page, strokes, pause_ms: int = PAUSE_MS) -> None:
    """Draw with the mouse as a hesitant hand does: where a stroke repeats a point the pen rests there for
    ``pause_ms``, still pressed, and it is lifted for as long between strokes."""
    page.locator("#pad-canvas").evaluate(BRING_PAD_INTO_VIEW)
    for stroke in strokes:
        page.mouse.move(*pad_point(page, stroke[0]))
        page.mouse.down()
        for previous, point in zip(stroke, stroke[1:]):
            if point == previous:
                page.wait_for_timeout(pause_ms)
            else:
                page.mouse.move(*pad_point(page, point), steps=12)
        page.mouse.up()
        page.wait_for_timeout(pause_ms)


def hold_next(page: Page, path: str):
    """Hold back the next request to the API ``path`` (e.g. "/api/read") and let every other one through: the real
    server answers it only when the returned release() is called, later than answers to newer requests. release()
    then waits long enough for a page that would show that late answer to show it."""
    pattern = re.compile(rf"{re.escape(path)}$")
    held = []

    def handle(route) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route(pattern, handle)

    def release() -> None:
        assert held, f"no request to {path} was held"
        try:
            held[0].continue_()
        except Error:
            pass   # the page has given up on it already (aborted): also fine
        page.unroute(pattern, handle)
        page.wait_for_timeout(600)

    return release
