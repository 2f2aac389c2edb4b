"""Numbers benchmark: what ``POST /api/read`` answers to whole numbers written on a wide pad, over HTTP (issue 16).

    .venv/bin/python -m bench.numbers [--count 40] [--touching-count 40] [--rounds 5] [--seconds 4]

A throwaway site (bench.harness.processes.running_site: gunicorn, the rate limit off, ``--checkpoint`` active) is
sent, by ``--clients`` client threads, each number posted as the page posts it (``--transport page``: the
transparent canvas as the pad's JSON data URL, every other encoding as an uploaded file):

1. the main set: ``--count`` numbers per encoding of training.ml.canvas (all 11), each 2-5 MNIST *test* digits
   written side by side by training.ml.numbers (gaps of 4-30 % of the digit height, heights ±12 %, baselines ±8 %,
   one pen, a wide pad with a margin all round). A number is right when the answer is a 200 whose ``number`` is
   the label. Digits are scored by position when the answer has as many digits as the number; when it has more
   or fewer (two digits read as one, one split in two) or is no 200, every digit of the number counts wrong. A
   digit answered ``not_a_digit`` counts wrong; ``unsure`` counts as its digit. Also counted: answers that say
   the digits touch, answers with a ``not_a_digit`` digit (``number`` null), and whether every box lies inside
   the image and the boxes run left to right (left edges never decreasing); where the count is right, the mean
   IoU of each box with the digit's true ink box. No digits touch in this set: an answer saying they do is a
   false alarm (the page would ask the writer to leave gaps they left).
2. the touching set: ``--touching-count`` numbers per encoding whose neighbours' ink boxes overlap by 0-15 % of
   the narrower one's width (the strokes often touch or cross; split by whether any do). Whole-number accuracy,
   and the share of answers that are right or say the digits touch (the issue: every answer should be one).
3. latency: one client on one keep-alive connection posts, in turn, a 4-digit number (MNIST test digits #0-#3,
   "7210", on a 280 px high pad) to /api/read, the 280x280 canvas of digit #0 to /api/predict (both as multipart
   uploads) and GET /api/health (the floor), for ``--seconds`` a round, ``--rounds`` rounds, the order turned
   each round. Requests interleaved one by one meet the same busy neighbour on this shared machine, where runs
   of seconds each do not. The ratio judged is the median over rounds of read's p50 over predict's p50 at the
   client; gunicorn's own request times (its access log) give the same ratio without the client, beside it.

Targets (issue 16): whole-number accuracy >= 95 %, per-digit accuracy >= 99 % (main set, all encodings), read's
p50 <= 4x predict's; every box inside its image and boxes left to right; no 5xx. The touching set has no target:
that every answer is right or says the digits touch is checked and printed beside it. Prints tables and PASS/FAIL,
writes bench/results/numbers.json and numbers_failures.png (each failure as posted, the site's boxes and digits
over it in red, the true boxes in green, and the 28x28 pieces the network saw). Exits 0 whatever the figures; 2
when the checkpoint cannot be loaded.
"""

import argparse
import base64
import dataclasses
import datetime
import http.client
import io
import json
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from bench.accuracy import argument_parser, load_network
from bench.harness.client import (
    ANSWERED, ERROR, HEALTH, REFUSED, Endpoint, canvas_png, mnist_test, post_for_json, predict_multipart, request_once,
)
from bench.harness.loadgen import add_posting_options, sanity_check, warm_up
from bench.harness.monitor import scan_logs, server_times
from bench.harness.processes import SITE_SETTINGS, Site, checkpoint_found, running_site, unwind_on_sigterm
from bench.harness.results import code_state, fmt, machine_info, pass_fail, share, summarise, write_result
from bench.verdicts import pct, predict_endpoint
from recognizer.ml.reader import NOT_A_DIGIT, UNSURE
from training.ml.canvas import ENCODINGS
from training.ml.numbers import NumberSample, iter_numbers, render_number

TARGET_NUMBER_ACCURACY = 0.95
TARGET_DIGIT_ACCURACY = 0.99
TARGET_LATENCY_RATIO = 4.0
READ_PATH = "/api/read"
LATENCY_DIGITS = (0, 1, 2, 3)  # MNIST test images #0-#3: "7210"
LATENCY_PAD_HEIGHT = 280       # the digit pad's height
SHEET_MAX = {"main": 36, "touching": 24}
SHEET_MAX_REFUSED = 6
SHEET_COLUMNS = 3
SHEET_WIDTH, SHEET_HEIGHT, PIECE = 440, 120, 40


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(__doc__.splitlines()[0], unit="encoding", count=40, seed=16)
    parser.add_argument("--touching-count", type=int, default=40, help="touching-set numbers per encoding (40)")
    add_posting_options(parser)
    parser.add_argument("--rounds", type=int, default=5, help="latency rounds (default 5)")
    parser.add_argument("--seconds", type=float, default=4.0, help="per latency round (default 4)")
    return parser.parse_args(argv)


# --- what was posted, and what came back ---------------------------------------------------------------------

@dataclass
class Answer:
    sample: NumberSample
    outcome: str                 # ANSWERED (200), REFUSED (4xx) or ERROR (no answer, 5xx, unreadable)
    status: int | None = None
    reply: dict | None = None
    message: str = ""

    @property
    def digits(self) -> list[dict]:
        return self.reply["digits"] if self.outcome == ANSWERED else []

    @property
    def number(self) -> str | None:
        return self.reply["number"] if self.outcome == ANSWERED else None

    @property
    def right(self) -> bool:
        return self.number == self.sample.label

    @property
    def says_touching(self) -> bool:
        return self.outcome == ANSWERED and bool(self.reply.get("touching") or any(d.get("touching")
                                                                                 for d in self.digits))

    @property
    def no_digit(self) -> bool:
        return any(d["verdict"] == NOT_A_DIGIT for d in self.digits)

    @property
    def count_right(self) -> bool:
        return self.outcome == ANSWERED and len(self.digits) == len(self.sample.label)

    @property
    def digits_right(self) -> int:
        """Digits read right by position; none unless as many digits were read as were written."""
        if not self.count_right:
            return 0
        return sum(d["verdict"] != NOT_A_DIGIT and str(d["digit"]) == label
                   for d, label in zip(self.digits, self.sample.label))

    @property
    def boxes_inside(self) -> bool:
        width, height = self.sample.drawing.size
        return all(w >= 1 and h >= 1 and x >= 0 and y >= 0 and x + w <= width and y + h <= height
                   for x, y, w, h in (d["box"] for d in self.digits))

    @property
    def boxes_in_order(self) -> bool:
        lefts = [d["box"][0] for d in self.digits]
        return lefts == sorted(lefts)

    @property
    def ious(self) -> list[float]:
        """Each box's IoU with the true ink box of the digit at its place; [] unless the count is right."""
        return [iou(d["box"], truth) for d, truth in zip(self.digits, self.sample.drawing.boxes)] \
            if self.count_right else []

    @property
    def read_as(self) -> str:
        """What the site answered, in a few words."""
        if self.outcome != ANSWERED:
            return f"{self.status or 'error'}: {self.message}"[:60]
        read = "".join(f"{d['digit']}{'?' if d['verdict'] == UNSURE else ''}"
                       f"{'x' if d['verdict'] == NOT_A_DIGIT else ''}" for d in self.digits)
        return read + (" touching" if self.says_touching else "")


def iou(box: list[int], truth: tuple[int, int, int, int]) -> float:
    (x, y, w, h), (tx, ty, tw, th) = box, truth
    inter = max(0, min(x + w, tx + tw) - max(x, tx)) * max(0, min(y + h, ty + th) - max(y, ty))
    return inter / (w * h + tw * th - inter) if w * h + tw * th else 0.0


def read_endpoint(sample: NumberSample, transport: str) -> Endpoint:
    posted = predict_endpoint(sample.data, sample.encoding, transport)  # the same shapes /api/predict takes
    return dataclasses.replace(posted, name=posted.name.replace("predict", "read"), path=READ_PATH)


def ask(port: int, sample: NumberSample, transport: str) -> Answer:
    """Post one number; never raises for what the site or the connection does."""
    posted = post_for_json(port, read_endpoint(sample, transport))
    if posted.outcome != ANSWERED:
        return Answer(sample, posted.outcome, posted.status, message=posted.message)
    try:
        reply = {**posted.reply, "digits": [{**d, "box": [int(v) for v in d["box"]]} for d in posted.reply["digits"]]}
    except (KeyError, TypeError, ValueError) as exc:
        return Answer(sample, ERROR, posted.status, message=f"unreadable answer: {exc!r}")
    return Answer(sample, ANSWERED, posted.status, reply)


def post_all(port: int, samples: list[NumberSample], *, clients: int, transport: str, title: str) -> list[Answer]:
    with ThreadPoolExecutor(clients) as pool:
        return list(tqdm(pool.map(lambda s: ask(port, s, transport), samples), total=len(samples), desc=title,
                         unit="post"))


# --- figures -------------------------------------------------------------------------------------------------

def figures(answers: list[Answer]) -> dict:
    """Whole-number and per-digit accuracy and what else the answers said (see the module docstring)."""
    answered = [a for a in answers if a.outcome == ANSWERED]
    digits = sum(len(a.sample.label) for a in answers)
    right, digits_right = sum(a.right for a in answers), sum(a.digits_right for a in answers)
    ious = [v for a in answered for v in a.ious]
    return {
        "n": len(answers), "right": right, "number_accuracy": share(right, len(answers)),
        "digits": digits, "digits_right": digits_right, "digit_accuracy": share(digits_right, digits),
        # The same over the 200 answers only: what the reading does once the errors are mended.
        "answered": len(answered), "number_accuracy_answered": share(right, len(answered)),
        "digit_accuracy_answered": share(digits_right, sum(len(a.sample.label) for a in answered)),
        "fewer_digits": sum(len(a.digits) < len(a.sample.label) for a in answered),  # two read as one
        "more_digits": sum(len(a.digits) > len(a.sample.label) for a in answered),   # one read as two
        "says_touching": sum(a.says_touching for a in answered),
        "right_or_touching": share(sum(a.right or a.says_touching for a in answers), len(answers)),
        "not_a_digit": sum(a.no_digit for a in answered),
        "unsure_digits": sum(d["verdict"] == UNSURE for a in answered for d in a.digits),
        "boxes_outside": sum(not a.boxes_inside for a in answered),
        "boxes_out_of_order": sum(not a.boxes_in_order for a in answered),
        "mean_iou": float(np.mean(ious)) if ious else None,
        "refused_4xx": sum(a.outcome == REFUSED for a in answers), "errors": sum(a.outcome == ERROR for a in answers),
    }


def grouped(answers: list[Answer], key: Callable[[Answer], object], order: Iterable) -> dict[str, dict]:
    groups: dict = defaultdict(list)
    for answer in answers:
        groups[key(answer)].append(answer)
    return {str(name): figures(groups[name]) for name in order if name in groups}


def confusions(answers: list[Answer]) -> dict[str, int]:
    """Digit misreadings ("label->read") where the count was right, most common first."""
    found = Counter(f"{label}->{d['digit']}{'x' if d['verdict'] == NOT_A_DIGIT else ''}"
                    for a in answers if a.count_right for d, label in zip(a.digits, a.sample.label)
                    if str(d["digit"]) != label or d["verdict"] == NOT_A_DIGIT)
    return dict(found.most_common(10))


def summarise_set(answers: list[Answer]) -> dict:
    found = {"overall": figures(answers),
             "per_encoding": grouped(answers, lambda a: a.sample.encoding, ENCODINGS),
             "per_length": grouped(answers, lambda a: len(a.sample.label), range(2, 6)),
             "confusions": confusions(answers),
             "misread": [{"label": a.sample.label, "read": a.read_as, "encoding": a.sample.encoding}
                         for a in answers if not a.right][:60],
             "refusals": dict(Counter(a.message for a in answers if a.outcome == REFUSED).most_common(5)),
             "errors": dict(Counter(a.message or f"HTTP {a.status}" for a in answers if a.outcome == ERROR)
                            .most_common(5))}
    if any(any(a.sample.drawing.touching) for a in answers):
        found["ink"] = grouped(answers, lambda a: "ink touches" if any(a.sample.drawing.touching) else "ink apart",
                               ("ink touches", "ink apart"))
    return found


# --- latency -------------------------------------------------------------------------------------------------

def latency_bodies() -> tuple[Endpoint, str, Endpoint, int]:
    """The 4-digit number as a multipart upload to /api/read and its label; the single digit's canvas to
    /api/predict and its label."""
    images, labels = mnist_test()
    drawing = render_number([images[i] for i in LATENCY_DIGITS], np.random.default_rng(0),
                            pad_height=LATENCY_PAD_HEIGHT)
    number = dataclasses.replace(predict_multipart(drawing.data), name="read 4 digits", path=READ_PATH)
    png, label = canvas_png()
    print(f"latency: a {drawing.size[0]}x{drawing.size[1]} canvas PNG of {len(LATENCY_DIGITS)} digits "
          f"({len(drawing.data)} bytes) against the 280x280 canvas of one ({len(png)} bytes)")
    single = dataclasses.replace(predict_multipart(png), name="predict 1 digit")
    return number, "".join(str(labels[i]) for i in LATENCY_DIGITS), single, label


def interleaved(port: int, endpoints: list[Endpoint], seconds: float) -> dict[str, dict]:
    """One client on one keep-alive connection sending the endpoints' requests in turn (A, B, C, A, B, C...) for
    ``seconds``: each endpoint's client-side milliseconds of its 200 answers, and its count of other answers."""
    found = {e.name: {"ms": [], "errors": 0} for e in endpoints}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    deadline = time.perf_counter() + seconds
    try:
        while time.perf_counter() < deadline:
            for endpoint in endpoints:
                began = time.perf_counter()
                try:
                    conn.request(endpoint.method, endpoint.path, body=endpoint.body or None, headers=endpoint.headers)
                    response = conn.getresponse()
                    response.read()
                    ok = response.status == 200
                except (OSError, http.client.HTTPException):
                    ok = False
                    conn.close()  # reconnects on the next request
                if ok:
                    found[endpoint.name]["ms"].append(1000 * (time.perf_counter() - began))
                else:
                    found[endpoint.name]["errors"] += 1
    finally:
        conn.close()
    return found


def measure_latency(site: Site, read: Endpoint, predict: Endpoint, rounds: int, seconds: float) -> dict:
    """``rounds`` of ``interleaved`` read, predict and health, the order turned each round: per round each one's
    p50 at the client and in gunicorn (its access log), and read's p50 over predict's; the medians over rounds.
    A request of each kind comes every few milliseconds, so a busy neighbour slows all of them alike."""
    rows, names = [], {read.name: READ_PATH, predict.name: "/api/predict", HEALTH.name: "/api/health"}
    offset = site.access_log.stat().st_size
    for round_ in range(rounds):
        order = [read, predict, HEALTH][round_ % 3:] + [read, predict, HEALTH][: round_ % 3]
        found = interleaved(site.port, order, seconds)
        time.sleep(0.3)  # gunicorn writes the access line just after the response
        row = {}
        for name, path in names.items():
            server, offset_after = server_times(site.access_log, offset, path)
            row[name] = {"requests": len(found[name]["ms"]), "errors": found[name]["errors"],
                         **summarise(np.array(found[name]["ms"]), "client_"), "server_p50_ms": server["server_p50_ms"]}
        offset = offset_after
        row["ratio"] = row[read.name]["client_p50_ms"] / row[predict.name]["client_p50_ms"]
        row["server_ratio"] = row[read.name]["server_p50_ms"] / row[predict.name]["server_p50_ms"]
        rows.append(row)
        print(f"  round {round_ + 1}: read p50 {row[read.name]['client_p50_ms']:.2f} ms, predict p50 "
              f"{row[predict.name]['client_p50_ms']:.2f} ms ({row['ratio']:.2f}x; in gunicorn "
              f"{row['server_ratio']:.2f}x), health p50 {row[HEALTH.name]['client_p50_ms']:.2f} ms", flush=True)
    errors = sum(r[name]["errors"] for r in rows for name in names)
    if errors:
        print(f"WARNING: {errors} latency requests failed: the ratio is not judged")
    median = {name: statistics.median(r[name]["client_p50_ms"] for r in rows) for name in names}
    return {"rounds": rows, "read_p50_ms": median[read.name], "predict_p50_ms": median[predict.name],
            "health_p50_ms": median[HEALTH.name], "ratio": statistics.median(r["ratio"] for r in rows),
            "server_ratio": statistics.median(r["server_ratio"] for r in rows), "errors": errors,
            "load_average": os.getloadavg()}


# --- report --------------------------------------------------------------------------------------------------

def print_table(title: str, rows: dict[str, dict], *, touching: bool = False) -> None:
    print(f"\n{title:<20} {'n':>4} {'number':>7} {'digits':>8} {'fewer':>5} {'more':>5} {'touch':>5} "
          f"{'no dig':>6} {'unsure':>6} {'4xx':>4} {'err':>4} {'box bad':>7} {'IoU':>5}"
          + (f" {'right|touch':>11}" if touching else ""))
    for name, r in rows.items():
        flag = "" if touching or name == "all" or (r["number_accuracy"] or 0) >= TARGET_NUMBER_ACCURACY \
            else f"  <-- below {TARGET_NUMBER_ACCURACY:.0%}"
        print(f"{name:<20} {r['n']:>4} {pct(r['number_accuracy']):>7} {pct(r['digit_accuracy'], 2):>8} "
              f"{r['fewer_digits']:>5} {r['more_digits']:>5} {r['says_touching']:>5} {r['not_a_digit']:>6} "
              f"{r['unsure_digits']:>6} {r['refused_4xx']:>4} {r['errors']:>4} "
              f"{r['boxes_outside'] + r['boxes_out_of_order']:>7} {fmt(r['mean_iou'], '5.2f')}"
              + (f" {pct(r['right_or_touching']):>11}" if touching else "") + flag)


def report(main: dict, touching: dict, latency: dict) -> dict[str, bool | None]:
    print_table("main set: encoding", {**main["per_encoding"], "all": main["overall"]})
    print_table("main set: length", main["per_length"])
    print_table("touching: encoding", {**touching["per_encoding"], "all": touching["overall"]}, touching=True)
    print_table("touching: ink", touching.get("ink", {}), touching=True)
    print("(number: whole numbers right; digits: by position when the count is right, else all wrong; fewer/more: "
          "answers with fewer/more digits than written; touch: answers saying the digits touch; no dig: with a "
          "not_a_digit digit; box bad: a box outside the image or out of order; IoU: boxes against the true ink "
          "boxes where the count is right)")
    for name, found in (("main", main), ("touching", touching)):
        if found["confusions"]:
            print(f"{name} set digit confusions: " + ", ".join(f"{k} x{v}" for k, v in found["confusions"].items()))
        for what in ("refusals", "errors"):
            if found[what]:
                print(f"{name} set {what}: " + "; ".join(f"{m!r} x{n}" for m, n in found[what].items()))
    print(f"\nlatency (1 client, requests interleaved, median of {len(latency['rounds'])} rounds): read 4 digits "
          f"p50 {latency['read_p50_ms']:.2f} ms, predict 1 digit p50 {latency['predict_p50_ms']:.2f} ms, health "
          f"p50 {latency['health_p50_ms']:.2f} ms; ratio {latency['ratio']:.2f}x (in gunicorn "
          f"{latency['server_ratio']:.2f}x); load average {latency['load_average'][0]:.2f}")
    both = [main["overall"], touching["overall"]]
    boxes_bad = (f"{sum(f['boxes_outside'] for f in both)} outside, "
                 f"{sum(f['boxes_out_of_order'] for f in both)} out of order")
    met = {"number_accuracy": (main["overall"]["number_accuracy"] or 0) >= TARGET_NUMBER_ACCURACY,
           "digit_accuracy": (main["overall"]["digit_accuracy"] or 0) >= TARGET_DIGIT_ACCURACY,
           "latency_ratio": None if latency["errors"] else latency["ratio"] <= TARGET_LATENCY_RATIO,
           "boxes": not sum(f["boxes_outside"] + f["boxes_out_of_order"] for f in both),
           "no_errors": not sum(f["errors"] for f in both) and not latency["errors"]}
    overall = main["overall"]
    answered = f"; {overall['answered']} answered 200" if overall["answered"] < overall["n"] else ""
    lines = [("number_accuracy", f"whole-number accuracy >= {TARGET_NUMBER_ACCURACY:.0%}",
              pct(overall["number_accuracy"]) + (answered and f"{answered}: {pct(overall['number_accuracy_answered'])}")),
             ("digit_accuracy", f"per-digit accuracy >= {TARGET_DIGIT_ACCURACY:.0%}",
              pct(overall["digit_accuracy"], 2) + (answered and f"{answered}: "
                                                  f"{pct(overall['digit_accuracy_answered'], 2)}")),
             ("latency_ratio", f"read p50 of 4 digits <= {TARGET_LATENCY_RATIO:.0f}x predict p50",
              f"{latency['ratio']:.2f}x"),
             ("boxes", "every box inside its image, boxes left to right", boxes_bad),
             ("no_errors", "no 5xx or connection errors", str(sum(f["errors"] for f in both) + latency["errors"]))]
    print()
    for key, target, value in lines:
        print(f"target {target}: {pass_fail(met[key])} ({value})")
    print(f"main set (no digits touch; no target): {main['overall']['says_touching']} of {main['overall']['n']} "
          "answers say the digits touch")
    print(f"touching set (no target): whole-number accuracy {pct(touching['overall']['number_accuracy'])}; every "
          f"answer right or says the digits touch: {pass_fail(touching['overall']['right_or_touching'] == 1)} "
          f"({pct(touching['overall']['right_or_touching'])})")
    print(f"RESULT: {'PASS' if all(met.values()) else 'FAIL'}")
    return met


# --- the failures sheet ----------------------------------------------------------------------------------------

def number_tile(answer: Answer) -> Image.Image:
    """The number as posted over a light checkerboard, cropped to its ink and the site's boxes and scaled to fit,
    the true boxes in green, the site's in red with the digit read above each (? unsure, x not a digit, *
    touching)."""
    image = Image.open(io.BytesIO(answer.sample.data)).convert("RGBA")
    y, x = np.indices(image.size[::-1])
    board = np.full((*image.size[::-1], 4), 255, dtype=np.uint8)
    board[..., :3] = np.where(((y // 16 + x // 16) % 2 == 0)[..., None], 215, 240)
    image = Image.alpha_composite(Image.fromarray(board, "RGBA"), image).convert("RGB")
    boxes = [*answer.sample.drawing.boxes, *(d["box"] for d in answer.digits)]
    pad = round(0.15 * answer.sample.drawing.digit_height)
    left, top = max(0, min(b[0] for b in boxes) - pad), max(0, min(b[1] for b in boxes) - pad)
    image = image.crop((left, top, min(image.width, max(b[0] + b[2] for b in boxes) + pad),
                        min(image.height, max(b[1] + b[3] for b in boxes) + pad)))
    scale = min(SHEET_WIDTH / image.width, (SHEET_HEIGHT - 14) / image.height)
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                         Image.Resampling.LANCZOS)
    tile = Image.new("RGB", (image.width, image.height + 14), "white")
    tile.paste(image, (0, 14))
    pen = ImageDraw.Draw(tile)

    def rect(box, colour: str, width: int) -> tuple[float, float]:
        bx, by, bw, bh = (box[0] - left) * scale, (box[1] - top) * scale + 14, box[2] * scale, box[3] * scale
        pen.rectangle([bx, by, bx + bw - 1, by + bh - 1], outline=colour, width=width)
        return bx, by

    for truth in answer.sample.drawing.boxes:
        rect(truth, "#2a2", 1)
    for d in answer.digits:
        bx, by = rect(d["box"], "#d00", 2)
        mark = {UNSURE: "?", NOT_A_DIGIT: "x"}.get(d["verdict"], "") + ("*" if d.get("touching") else "")
        pen.text((bx + 2, max(0, by - 12)), f"{d['digit']}{mark}", fill="#d00")
    return tile


def pieces_tile(answer: Answer) -> Image.Image | None:
    """The 28x28 pieces the network saw, side by side, from the answer's data URLs."""
    shown = []
    for d in answer.digits[:10]:
        try:
            data = base64.b64decode(d["preprocessed"].split(",", 1)[1])
            shown.append(Image.open(io.BytesIO(data)).convert("L").resize((PIECE, PIECE), Image.Resampling.NEAREST))
        except (KeyError, IndexError, ValueError, OSError):
            shown.append(Image.new("L", (PIECE, PIECE), 80))
    if not shown:
        return None
    strip = Image.new("L", (len(shown) * (PIECE + 2), PIECE), 255)
    for k, piece in enumerate(shown):
        strip.paste(piece, (k * (PIECE + 2), 0))
    return strip.convert("RGB")


def failures_sheet(sections: list[tuple[str, list[Answer]]], path: Path) -> Path:
    """A grid of SHEET_COLUMNS failures a row under each section's title: the number with its boxes, the 28x28
    pieces under it, and a caption."""
    cell_w, cell_h = SHEET_WIDTH + 12, SHEET_HEIGHT + PIECE + 22
    heights = [20 + max(1, -(-len(answers) // SHEET_COLUMNS)) * cell_h for _, answers in sections]
    sheet = Image.new("RGB", (8 + SHEET_COLUMNS * cell_w, 28 + sum(heights)), "white")
    pen = ImageDraw.Draw(sheet)
    pen.text((8, 8), "failures: label / read (? unsure, x not a digit, * touching); red: the site's boxes, green: "
             "the true ink boxes; under each: the 28x28 pieces the network read", fill="black")
    top = 28
    for (title, answers), height in zip(sections, heights):
        pen.text((8, top + 4), title + ("" if answers else ": none"), fill="#00a")
        for k, answer in enumerate(answers):
            x, y = 8 + (k % SHEET_COLUMNS) * cell_w, top + 20 + (k // SHEET_COLUMNS) * cell_h
            sheet.paste(number_tile(answer), (x, y))
            pieces = pieces_tile(answer)
            if pieces is not None:
                sheet.paste(pieces, (x, y + SHEET_HEIGHT + 2))
            size = answer.sample.drawing.size
            pen.text((x, y + SHEET_HEIGHT + PIECE + 6), f"{answer.sample.label} / {answer.read_as}"[:48]
                     + f"  [{answer.sample.encoding} {size[0]}x{size[1]}]", fill="black")
        top += height
    sheet.save(path)
    return path


def worst_first(answers: list[Answer], limit: int, keep: Callable[[Answer], bool]) -> list[Answer]:
    """Up to ``limit`` answers that ``keep`` picks: misreadings first, then at most SHEET_MAX_REFUSED refusals and
    errors (they have no boxes to show)."""
    picked = [a for a in answers if keep(a)]
    misread = [a for a in picked if a.outcome == ANSWERED]
    return (misread + [a for a in picked if a.outcome != ANSWERED][:SHEET_MAX_REFUSED])[:limit]


# --- the run ---------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not checkpoint_found(args.checkpoint):
        return 2
    checkpoint = load_network(args)
    if checkpoint is None:
        return 2
    unwind_on_sigterm()
    seconds: dict[str, float] = {}
    began = time.perf_counter()
    main_set = list(iter_numbers(args.count, args.seed, mnist=mnist_test()))
    touching_set = list(iter_numbers(args.touching_count, args.seed, touching=True, mnist=mnist_test()))
    seconds["drawing"] = time.perf_counter() - began
    print(f"drew {len(main_set)} + {len(touching_set)} numbers in {seconds['drawing']:.1f} s")
    read, number_label, single, label = latency_bodies()
    started = time.perf_counter()
    answers: dict[str, list[Answer]] = {}
    with running_site(args.checkpoint, args.workers, args.server_threads) as site:
        seconds["site_start"] = time.perf_counter() - started
        sanity_check(site, single, label)
        status, body = request_once(site.port, read)
        said = json.loads(body).get("number" if status == 200 else "error") if body.startswith(b"{") else body[:80]
        print(f"/api/read of {number_label}: {status} {said!r}")
        warm_up(site.port, [single, read], args.workers, args.server_threads)
        for name, samples in (("main", main_set), ("touching", touching_set)):
            begun = time.perf_counter()
            answers[name] = post_all(site.port, samples, clients=args.clients, transport=args.transport,
                                     title=f"{name} set")
            seconds[name] = time.perf_counter() - begun
        begun = time.perf_counter()
        latency = measure_latency(site, read, single, args.rounds, args.seconds)
        seconds["latency"] = time.perf_counter() - begun
        logs = scan_logs(site.tmp)["gunicorn.log"]
    if logs["counts"]:
        print(f"gunicorn's log: {logs['counts']}\n  " + "\n  ".join(logs["notable"][:12]))
    found = {name: summarise_set(found) for name, found in answers.items()}
    met = report(found["main"], found["touching"], latency)
    seconds["total"] = time.perf_counter() - started + seconds["drawing"]
    print(f"time: {seconds['total']:.1f} s (" + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()
                                                         if k != "total") + ")")
    args.out.mkdir(parents=True, exist_ok=True)
    sheet = failures_sheet([
        ("main set: numbers read wrong", worst_first(answers["main"], SHEET_MAX["main"], lambda a: not a.right)),
        ("touching set: wrong without saying the digits touch",
         worst_first(answers["touching"], SHEET_MAX["touching"], lambda a: not a.right and not a.says_touching)),
    ], args.out / "numbers_failures.png")
    print(f"wrote {sheet}")
    write_result(args.out, "numbers.json", {
        "benchmark": "numbers", "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
        "command": " ".join([Path(sys.executable).name, "-m", "bench.numbers", *(argv or sys.argv[1:])]),
        "seed": args.seed, "count_per_encoding": args.count, "touching_count_per_encoding": args.touching_count,
        "encodings": list(ENCODINGS),
        "site": {"workers": args.workers, "threads": args.server_threads, "clients": args.clients,
                 "transport": args.transport, "settings": SITE_SETTINGS, "log": logs["counts"]},
        **found,
        "latency": {"number": number_label, "pad_height": LATENCY_PAD_HEIGHT, "seconds": args.seconds, **latency},
        "targets": {"number_accuracy": TARGET_NUMBER_ACCURACY, "digit_accuracy": TARGET_DIGIT_ACCURACY,
                    "latency_ratio": TARGET_LATENCY_RATIO, "met": met, "pass": all(met.values())},
        "seconds": seconds, "sheet": str(sheet),
        "checkpoint": {"path": str(args.checkpoint), "sha256": checkpoint.sha256, "metadata": checkpoint.metadata},
        "machine": machine_info(), "code": code_state()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
