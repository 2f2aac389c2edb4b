"""Verdicts benchmark: what the site answers, over HTTP, to drawings that are no digit and to digits.

    .venv/bin/python -m bench.verdicts --count 100 --digits 300 --checkpoint recognizer/weights/base.pt

A throwaway site (bench.harness.processes.running_site: gunicorn, the rate limit off, ``--checkpoint`` active) is
sent two sets by ``--clients`` client threads, each drawing posted as the page posts it (``--transport page``: a
canvas PNG as the pad's JSON data URL, any other encoding as an uploaded file):

1. non-digits: ``--count`` drawings of every family of training.ml.nondigits (UNSEEN ones included), from ``--seed``
   (never a training seed), their canvas's alpha taken as ink and encoded round-robin in every encoding of
   training.ml.canvas. Recall is the share answered ``not_a_digit``; a 4xx (a speck, say) is no recall but is
   listed apart, and a connection error or 5xx is counted as an error and left out of every share.
2. digits: ``--digits`` MNIST test digits per encoding (training.ml.canvas.iter_robustness_set). Accuracy counts a
   refused digit (``not_a_digit`` or a 4xx) as wrong; the expected calibration error is that of ``confidence``.

Then the simple baseline "refuse when confidence < t", with t set to refuse as many digits as the detector did
(0.5 % when it refused none), beside the detector, and the AUROC of ``not_a_digit_score`` and of ``1 - confidence``
for non-digits against digits. Prints tables and PASS/FAIL against the targets (non-digit recall >= 90 %, digits
called no digit <= 0.5 %, digit accuracy >= 99.3 % overall and >= 98.5 % per encoding, ECE <= 2 %), writes
bench/results/verdicts.json, verdicts_nondigits.png (a row of drawings per family with the site's answer) and
verdicts_missed.png (non-digits read as digits, digits refused). A checkpoint without a detector is measured too:
its not_a_digit_score is null and nothing is called no digit. Exits 0 whatever the figures; 2 when the checkpoint
cannot be loaded.
"""

import argparse
import io
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy.stats import rankdata
from tqdm import tqdm

from bench.accuracy import CELL, argument_parser, contact_sheet, load_network, thumbnail, write_accuracy_result
from bench.harness.client import (
    ANSWERED, ERROR, REFUSED, Endpoint, canvas_png, mnist_test, post_for_json, predict_data_url, predict_multipart,
)
from bench.harness.loadgen import add_posting_options, sanity_check, warm_up
from bench.harness.monitor import scan_logs
from bench.harness.processes import SITE_SETTINGS, checkpoint_found, running_site, unwind_on_sigterm
from bench.harness.results import share
from recognizer.ml.reader import NOT_A_DIGIT, UNSURE
from training.ml.canvas import ENCODINGS, iter_robustness_set
from training.ml.detector import NONDIGIT_SEEDS, expected_calibration_error
from training.ml.nondigits import FAMILIES, UNSEEN, iter_nondigits

TARGET_NONDIGIT_RECALL = 0.90
TARGET_DIGITS_REFUSED = 0.005
TARGET_ACCURACY = 0.993
TARGET_PER_ENCODING = 0.985
TARGET_ECE = 0.02
ECE_BINS = 10
BASELINE_FALLBACK_SHARE = 0.005  # the baseline's refusal share when the detector refused no digit
REQUESTS_PER_CLIENT = 4          # drawings rendered ahead of the answers, per client: bounds memory
DRAWN_ON_PAD = {"canvas-rgba-png"}  # what the pad posts as a JSON data URL; other encodings come as uploads
ENCODING_STREAM = 7              # the encoders' random stream: [seed, 7], apart from the drawings' own streams
DIGIT = "digit"                  # the kind and family of the digits set
SHEET_PER_FAMILY = 6
MISSES_PER_FAMILY = 2
SHEET_MAX_MISSES = 48
SHEET_MAX_REFUSED = 24
SHEET_PER_ROW = 6


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(__doc__.splitlines()[0], unit="non-digit family", count=100, seed=2026)
    parser.add_argument("--digits", type=int, default=300, help="MNIST test digits per encoding (default 300)")
    add_posting_options(parser)
    return parser.parse_args(argv)


# --- what is posted, and what came back ------------------------------------------------------------------------

@dataclass
class Drawing:
    seq: int           # its place in its set: the sheets pick by it, so they do not depend on answer order
    family: str        # the non-digit family, or DIGIT
    kind: str          # the family's kind, or DIGIT
    encoding: str
    ordinal: int       # 1 for the first drawing of its family (digits: of its encoding), 2 for the next...
    data: bytes | None  # dropped once answered unless a sheet shows it (see Picks)
    label: int | None = None

    @property
    def key(self) -> tuple[bool, int]:
        return self.kind == DIGIT, self.seq


@dataclass
class Answer:
    drawing: Drawing
    outcome: str                     # ANSWERED (200), REFUSED (4xx) or ERROR (no answer, 5xx, unreadable)
    status: int | None = None
    verdict: str | None = None
    digit: int | None = None
    confidence: float | None = None
    score: float | None = None       # not_a_digit_score
    message: str = ""                # a refusal's or an error's words

    @property
    def no_digit(self) -> bool:
        return self.outcome == ANSWERED and self.verdict == NOT_A_DIGIT

    @property
    def read_right(self) -> bool:
        return self.outcome == ANSWERED and self.verdict != NOT_A_DIGIT and self.digit == self.drawing.label

    @property
    def missed(self) -> bool:
        """A non-digit the site read as a digit (sure or unsure)."""
        return self.outcome == ANSWERED and self.verdict != NOT_A_DIGIT


def nondigit_drawings(count: int, seed: int) -> Iterator[Drawing]:
    """``count`` drawings of every family, each family cycling through the encodings from its own starting one,
    so that every encoding gets drawings of every kind."""
    encoders = list(ENCODINGS.items())
    start = {name: index for index, name in enumerate(FAMILIES)}
    rng = np.random.default_rng([seed, ENCODING_STREAM])
    ordinals: Counter = Counter()
    for seq, drawn in enumerate(iter_nondigits(count, seed)):
        ordinals[drawn.family] += 1
        encoding, encode = encoders[(start[drawn.family] + ordinals[drawn.family] - 1) % len(encoders)]
        ink = np.asarray(drawn.image.getchannel("A"), dtype=np.float32) / 255.0
        yield Drawing(seq, drawn.family, drawn.kind, encoding, ordinals[drawn.family], encode(ink, rng))


def digit_drawings(count_per_encoding: int, seed: int) -> Iterator[Drawing]:
    ordinals: Counter = Counter()
    for seq, sample in enumerate(iter_robustness_set(count_per_encoding, seed, mnist=mnist_test())):
        ordinals[sample.encoding] += 1
        yield Drawing(seq, DIGIT, DIGIT, sample.encoding, ordinals[sample.encoding], sample.data, sample.label)


def predict_endpoint(data: bytes, encoding: str, transport: str) -> Endpoint:
    if transport == "multipart" or (transport == "page" and encoding not in DRAWN_ON_PAD):
        return predict_multipart(data)
    return predict_data_url(data, Image.MIME[Image.open(io.BytesIO(data)).format])


def ask(port: int, drawing: Drawing, transport: str) -> Answer:
    """Post one drawing; never raises for what the site or the connection does."""
    posted = post_for_json(port, predict_endpoint(drawing.data, drawing.encoding, transport))
    if posted.outcome != ANSWERED:
        return Answer(drawing, posted.outcome, posted.status, message=posted.message)
    reply = posted.reply
    try:
        return Answer(drawing, ANSWERED, posted.status, reply["verdict"], reply["digit"], reply["confidence"],
                      reply["not_a_digit_score"])
    except KeyError as exc:
        return Answer(drawing, ERROR, posted.status, message=f"unreadable answer: no {exc}")


class Picks:
    """The drawings the contact sheets show, and only their bytes: the first SHEET_PER_FAMILY of each non-digit
    family, the first MISSES_PER_FAMILY non-digits of each family read as digits, and the first SHEET_MAX_REFUSED
    digits refused ("first" by place in the set, whatever order the answers came in)."""

    def __init__(self) -> None:
        self.samples: list[Answer] = []
        self.missed: dict[str, list[Answer]] = defaultdict(list)
        self.refused: list[Answer] = []
        self.data: dict[tuple[bool, int], bytes] = {}

    def offer(self, answer: Answer) -> None:
        drawing = answer.drawing
        self.data[drawing.key] = drawing.data
        drawing.data = None  # the answers outlive thousands of images; the sheets need a few
        shown = _in_sample_row(drawing)
        if shown:
            self.samples.append(answer)
        if drawing.kind != DIGIT and answer.missed:
            shown |= self._keep_first(self.missed[drawing.family], answer, MISSES_PER_FAMILY)
        elif drawing.kind == DIGIT and (answer.no_digit or answer.outcome == REFUSED):
            shown |= self._keep_first(self.refused, answer, SHEET_MAX_REFUSED)
        if not shown:
            del self.data[drawing.key]

    def image(self, answer: Answer) -> bytes:
        return self.data[answer.drawing.key]

    def _keep_first(self, kept: list[Answer], answer: Answer, limit: int) -> bool:
        """Add ``answer`` to ``kept`` and drop all but the ``limit`` first, with the bytes no other sheet needs;
        whether ``answer`` stayed."""
        kept.append(answer)
        kept.sort(key=lambda a: a.drawing.seq)
        for dropped in kept[limit:]:
            if dropped is not answer and not _in_sample_row(dropped.drawing):
                del self.data[dropped.drawing.key]
        del kept[limit:]
        return any(kept_answer is answer for kept_answer in kept)


def _in_sample_row(drawing: Drawing) -> bool:
    return drawing.kind != DIGIT and drawing.ordinal <= SHEET_PER_FAMILY


def post_all(port: int, drawings: Iterable[Drawing], *, total: int, clients: int, transport: str, title: str,
             picks: Picks) -> list[Answer]:
    """Post every drawing from ``clients`` threads, rendering only a few ahead; the answers in set order."""
    answers: list[Answer] = []
    with ThreadPoolExecutor(clients) as pool, tqdm(total=total, desc=title, unit="post") as bar:
        def collect(futures: Iterable) -> None:
            for future in futures:
                answer = future.result()
                picks.offer(answer)
                answers.append(answer)
                bar.update()

        pending: set = set()
        for drawing in drawings:
            pending.add(pool.submit(ask, port, drawing, transport))
            if len(pending) >= clients * REQUESTS_PER_CLIENT:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                collect(done)
        collect(wait(pending).done)
    return sorted(answers, key=lambda a: a.drawing.seq)


# --- figures ---------------------------------------------------------------------------------------------------

def nondigit_figures(answers: list[Answer]) -> dict:
    """Recall (answered not_a_digit) over the drawings the site judged, 4xx included; errors left out."""
    judged = [a for a in answers if a.outcome != ERROR]
    missed = [a for a in judged if a.missed]
    return {"n": len(answers), "judged": len(judged), "not_a_digit": sum(a.no_digit for a in judged),
            "recall": share(sum(a.no_digit for a in judged), len(judged)),
            "refused_4xx": sum(a.outcome == REFUSED for a in judged), "errors": len(answers) - len(judged),
            "unsure": sum(a.verdict == UNSURE for a in missed), "read_as": dict(Counter(a.digit for a in missed)
                                                                                 .most_common(3))}


def digit_figures(answers: list[Answer]) -> dict:
    """Accuracy with a refused digit wrong, the shares called no digit and unsure, and the ECE of confidence (over
    the answered ones: the classifier's confidence against whether its best guess is the label)."""
    judged = [a for a in answers if a.outcome != ERROR]
    answered = [a for a in judged if a.outcome == ANSWERED]
    ece = expected_calibration_error([a.confidence for a in answered], [a.digit == a.drawing.label for a in answered],
                                     bins=ECE_BINS) if answered else None
    return {"n": len(answers), "judged": len(judged), "correct": sum(a.read_right for a in judged),
            "accuracy": share(sum(a.read_right for a in judged), len(judged)),
            "not_a_digit": sum(a.no_digit for a in judged), "not_a_digit_share": share(sum(a.no_digit for a in judged),
                                                                                      len(judged)),
            "unsure": sum(a.verdict == UNSURE for a in answered),
            "unsure_share": share(sum(a.verdict == UNSURE for a in answered), len(judged)),
            "refused_4xx": sum(a.outcome == REFUSED for a in judged), "errors": len(answers) - len(judged),
            "ece": ece, "mean_confidence": float(np.mean([a.confidence for a in answered])) if answered else None}


def grouped(answers: list[Answer], key: Callable[[Answer], str], figures: Callable[[list[Answer]], dict],
            order: Iterable[str]) -> dict[str, dict]:
    groups: dict[str, list[Answer]] = defaultdict(list)
    for answer in answers:
        groups[key(answer)].append(answer)
    return {name: figures(groups[name]) for name in order if name in groups}


def auroc(positives: list[float], negatives: list[float]) -> float | None:
    """The chance that a random positive scores above a random negative (ties count half): Mann-Whitney's U over
    the product of the counts, from average ranks."""
    if not positives or not negatives:
        return None
    ranks = rankdata(np.concatenate([positives, negatives]))
    count = len(positives)
    return float((ranks[:count].sum() - count * (count + 1) / 2) / (count * len(negatives)))


def baseline_comparison(nondigits: list[Answer], digits: list[Answer]) -> dict:
    """The detector against "refuse when confidence < t", t set to refuse the same share of the answered digits
    (BASELINE_FALLBACK_SHARE when the detector refused none); both recalls over the non-digits judged."""
    answered_digits = [a for a in digits if a.outcome == ANSWERED]
    judged_nondigits = [a for a in nondigits if a.outcome != ERROR]
    answered_nondigits = [a for a in judged_nondigits if a.outcome == ANSWERED]
    if not answered_digits or not judged_nondigits:
        return {}
    detector_share = sum(a.no_digit for a in answered_digits) / len(answered_digits)
    target_share = detector_share or BASELINE_FALLBACK_SHARE
    confidences = np.sort([a.confidence for a in answered_digits])
    refused = max(1, round(target_share * len(confidences)))  # refuse something, however few the digits
    threshold = float(confidences[min(refused, len(confidences) - 1)])
    scores_known = all(a.score is not None for a in [*answered_digits, *answered_nondigits])
    return {
        "detector_digit_refusal_share": detector_share, "target_share": target_share,
        "confidence_threshold": threshold,
        "baseline_digit_refusal_share": float(np.mean(confidences < threshold)),
        "detector_recall": sum(a.no_digit for a in judged_nondigits) / len(judged_nondigits),
        "baseline_recall": sum(a.confidence < threshold for a in answered_nondigits) / len(judged_nondigits),
        "auroc_not_a_digit_score": auroc([a.score for a in answered_nondigits], [a.score for a in answered_digits])
        if scores_known else None,
        "auroc_one_minus_confidence": auroc([1 - a.confidence for a in answered_nondigits],
                                            [1 - a.confidence for a in answered_digits]),
        "auroc_over": {"nondigits": len(answered_nondigits), "digits": len(answered_digits)},
    }


def summarise(nondigits: list[Answer], digits: list[Answer]) -> dict:
    kinds = list(dict.fromkeys(family.kind for family in FAMILIES.values()))
    families = grouped(nondigits, lambda a: a.drawing.family, nondigit_figures, FAMILIES)
    for name, figures in families.items():
        figures.update(kind=FAMILIES[name].kind, unseen=name in UNSEEN)
    return {
        "nondigits": {
            "overall": nondigit_figures(nondigits),
            "seen": nondigit_figures([a for a in nondigits if a.drawing.family not in UNSEEN]),
            "unseen": nondigit_figures([a for a in nondigits if a.drawing.family in UNSEEN]),
            "per_kind": grouped(nondigits, lambda a: a.drawing.kind, nondigit_figures, kinds),
            "per_encoding": grouped(nondigits, lambda a: a.drawing.encoding, nondigit_figures, ENCODINGS),
            "per_family": families,
            "refusals": dict(Counter(a.message for a in nondigits if a.outcome == REFUSED).most_common(5)),
        },
        "digits": {
            "overall": digit_figures(digits),
            "per_encoding": grouped(digits, lambda a: a.drawing.encoding, digit_figures, ENCODINGS),
            "refusals": dict(Counter(a.message for a in digits if a.outcome == REFUSED).most_common(5)),
        },
        "baseline": baseline_comparison(nondigits, digits),
        "errors": dict(Counter(a.message or f"HTTP {a.status}" for a in [*nondigits, *digits] if a.outcome == ERROR)
                       .most_common(5)),
    }


def checks(summary: dict) -> dict[str, bool]:
    """Each target met or not; a figure that could not be measured (no answers) fails its target."""
    nondigits, digits = summary["nondigits"]["overall"], summary["digits"]["overall"]
    per_encoding = [e["accuracy"] for e in summary["digits"]["per_encoding"].values()]

    def at_least(value: float | None, target: float) -> bool:
        return value is not None and value >= target

    def at_most(value: float | None, target: float) -> bool:
        return value is not None and value <= target

    return {"nondigit_recall": at_least(nondigits["recall"], TARGET_NONDIGIT_RECALL),
            "digits_not_a_digit": at_most(digits["not_a_digit_share"], TARGET_DIGITS_REFUSED),
            "digit_accuracy": at_least(digits["accuracy"], TARGET_ACCURACY),
            "digit_accuracy_per_encoding": bool(per_encoding) and all(at_least(v, TARGET_PER_ENCODING)
                                                                      for v in per_encoding),
            "ece": at_most(digits["ece"], TARGET_ECE)}


# --- report ----------------------------------------------------------------------------------------------------

def pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


def number(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def print_recall_table(title: str, rows: dict[str, dict], extra: Callable[[str, dict], str] = lambda n, r: "") -> None:
    print(f"\n{title:<28} {'n':>6} {'recall':>8} {'4xx':>5} {'errors':>6} {'unsure':>6}  read as (top 3)")
    for name, row in rows.items():
        read_as = ", ".join(f"{digit} x{count}" for digit, count in row["read_as"].items())
        print(f"{name[:28]:<28} {row['n']:>6} {pct(row['recall']):>8} {row['refused_4xx']:>5} {row['errors']:>6} "
              f"{row['unsure']:>6}  {read_as}{extra(name, row)}")


def print_digit_table(rows: dict[str, dict]) -> None:
    print(f"\n{'digits: encoding':<22} {'n':>6} {'accuracy':>9} {'no digit':>9} {'unsure':>7} {'4xx':>4} "
          f"{'errors':>6} {'ECE':>6} {'mean conf':>9}")
    for name, row in rows.items():
        flag = "" if name == "all" or (row["accuracy"] or 0) >= TARGET_PER_ENCODING else \
            f"  <-- below {TARGET_PER_ENCODING:.1%}"
        print(f"{name:<22} {row['n']:>6} {pct(row['accuracy'], 2):>9} {pct(row['not_a_digit_share'], 2):>9} "
              f"{pct(row['unsure_share']):>7} {row['refused_4xx']:>4} {row['errors']:>6} {pct(row['ece']):>6} "
              f"{number(row['mean_confidence']):>9}{flag}")


def report(summary: dict, has_detector: bool) -> dict[str, bool]:
    nondigits, digits, baseline = summary["nondigits"], summary["digits"], summary["baseline"]
    if not has_detector:
        print("\nthis checkpoint has no non-digit detector: not_a_digit_score is null and no answer is not_a_digit")
    print_recall_table("non-digits: kind", {**nondigits["per_kind"], "seen families": nondigits["seen"],
                                            "UNSEEN families": nondigits["unseen"], "all": nondigits["overall"]})
    by_recall = dict(sorted(nondigits["per_family"].items(), key=lambda kv: (kv[1]["recall"] or 0, kv[0])))
    print_recall_table("non-digits: family (worst 1st)", by_recall,
                       lambda name, row: f"  [{row['kind']}{', UNSEEN' if row['unseen'] else ''}]")
    print_recall_table("non-digits: encoding", nondigits["per_encoding"])
    for where in ("nondigits", "digits"):
        if summary[where]["refusals"]:
            print(f"{where} refused (4xx): " + "; ".join(f"{m!r} x{n}" for m, n in summary[where]["refusals"].items()))
    print_digit_table({**digits["per_encoding"], "all": digits["overall"]})
    if baseline:
        print(f"\nbaseline \"refuse when confidence < {baseline['confidence_threshold']:.4f}\" refuses "
              f"{pct(baseline['baseline_digit_refusal_share'], 2)} of digits (detector "
              f"{pct(baseline['detector_digit_refusal_share'], 2)}; target share {pct(baseline['target_share'], 2)})")
        print(f"{'non-digit recall':<28} detector {pct(baseline['detector_recall']):>7}   baseline "
              f"{pct(baseline['baseline_recall']):>7}")
        print(f"{'AUROC non-digits vs digits':<28} not_a_digit_score {number(baseline['auroc_not_a_digit_score'], '.4f')}"
              f"   1 - confidence {number(baseline['auroc_one_minus_confidence'], '.4f')}")
    if summary["errors"]:
        print(f"\nERRORS (no answer or 5xx; left out of every share): {summary['errors']}")
    met = checks(summary)
    worst = min(digits["per_encoding"].items(), key=lambda kv: kv[1]["accuracy"] or 0, default=("-", {"accuracy": None}))
    lines = [("nondigit_recall", f"non-digits answered not_a_digit >= {TARGET_NONDIGIT_RECALL:.0%}",
              pct(nondigits["overall"]["recall"])),
             ("digits_not_a_digit", f"digits answered not_a_digit <= {TARGET_DIGITS_REFUSED:.1%}",
              pct(digits["overall"]["not_a_digit_share"], 2)),
             ("digit_accuracy", f"digit accuracy >= {TARGET_ACCURACY:.1%}", pct(digits["overall"]["accuracy"], 2)),
             ("digit_accuracy_per_encoding", f"digit accuracy every encoding >= {TARGET_PER_ENCODING:.1%}",
              f"worst {worst[0]} {pct(worst[1]['accuracy'], 2)}"),
             ("ece", f"expected calibration error <= {TARGET_ECE:.0%}", pct(digits["overall"]["ece"], 2))]
    print()
    for key, target, value in lines:
        print(f"target {target}: {'PASS' if met[key] else 'FAIL'} ({value})")
    print(f"RESULT: {'PASS' if all(met.values()) else 'FAIL'}")
    return met


# --- sheets ----------------------------------------------------------------------------------------------------

def said(answer: Answer) -> str:
    """What the site answered, in a caption's few words."""
    if answer.outcome == ERROR:
        return f"error {answer.status or ''}".strip()
    if answer.outcome == REFUSED:
        return f"{answer.status} refused"
    if answer.verdict == NOT_A_DIGIT:
        return f"no digit {answer.score:.2f}"
    return f"said {answer.digit}{'?' if answer.verdict == UNSURE else ''} {answer.confidence:.0%}"


def text_tile(lines: list[str]) -> Image.Image:
    tile = Image.new("RGB", (CELL - 4, CELL - 4), (245, 245, 245))
    ImageDraw.Draw(tile).multiline_text((4, 4), "\n".join(lines), fill="black")
    return tile


def save_sheets(picks: Picks, summary: dict, directory: Path) -> tuple[Path, Path]:
    samples_path, missed_path = directory / "verdicts_nondigits.png", directory / "verdicts_missed.png"
    families = summary["nondigits"]["per_family"]
    rows = []
    for name in FAMILIES:
        shown = sorted((a for a in picks.samples if a.drawing.family == name), key=lambda a: a.drawing.ordinal)
        if shown:
            head = text_tile([name, families[name]["kind"] + (" UNSEEN" if name in UNSEEN else ""),
                              f"recall {pct(families[name]['recall'])}"])
            rows.append([(head, "")] + [(thumbnail(picks.image(a)), f"{said(a)} {a.drawing.encoding}")
                                        for a in shown])
    contact_sheet(rows, "non-digits as posted: the site's answer (? = unsure) and the encoding").save(samples_path)
    worst_first = sorted(picks.missed, key=lambda name: (families[name]["recall"] or 0, name))
    missed = [a for name in worst_first for a in picks.missed[name]][:SHEET_MAX_MISSES]
    cells = [(thumbnail(picks.image(a)), f"{said(a)} {a.drawing.family}") for a in missed]
    refused = [(thumbnail(picks.image(a)), f"{a.drawing.label}: {said(a)} {a.drawing.encoding}") for a in picks.refused]
    rows = [[(text_tile(["non-digits", "read as digits", "(worst families", "first)"]), "")] +
            cells[i: i + SHEET_PER_ROW] for i in range(0, len(cells), SHEET_PER_ROW)]
    rows += [[(text_tile(["digits refused", "(label: answer)"]), "")] + refused[i: i + SHEET_PER_ROW]
             for i in range(0, len(refused), SHEET_PER_ROW)]
    contact_sheet(rows or [[(text_tile(["nothing missed"]), "")]],
                  "non-digits read as digits | digits refused (not_a_digit or 4xx); ? = unsure").save(missed_path)
    return samples_path, missed_path


# --- the run ---------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not checkpoint_found(args.checkpoint):
        return 2
    checkpoint = load_network(args)
    if checkpoint is None:
        return 2
    if args.seed in NONDIGIT_SEEDS.values():
        print(f"warning: seed {args.seed} is one training draws non-digits from; the figures flatter the detector")
    has_detector = getattr(checkpoint.network, "detector", None) is not None
    unwind_on_sigterm()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    picks = Picks()
    with running_site(args.checkpoint, args.workers, args.server_threads) as site:
        seconds["site_start"] = time.perf_counter() - started
        png, label = canvas_png()
        sanity_check(site, predict_multipart(png), label)
        warm_up(site.port, [predict_multipart(png)], args.workers, args.server_threads)
        post = {"clients": args.clients, "transport": args.transport, "picks": picks}
        begun = time.perf_counter()
        nondigits = post_all(site.port, nondigit_drawings(args.count, args.seed),
                             total=args.count * len(FAMILIES), title="non-digits", **post)
        seconds["nondigits"] = time.perf_counter() - begun
        begun = time.perf_counter()
        digits = post_all(site.port, digit_drawings(args.digits, args.seed),
                          total=args.digits * len(ENCODINGS), title="digits", **post)
        seconds["digits"] = time.perf_counter() - begun
        logs = scan_logs(site.tmp)["gunicorn.log"]
    seconds["total"] = time.perf_counter() - started
    summary = summarise(nondigits, digits)
    met = report(summary, has_detector)
    posted = len(nondigits) + len(digits)
    print(f"time: {seconds['total']:.1f} s (site start {seconds['site_start']:.1f}, non-digits "
          f"{seconds['nondigits']:.1f}, digits {seconds['digits']:.1f}; "
          f"{posted / max(seconds['nondigits'] + seconds['digits'], 1e-9):.1f} posts/s)")
    args.out.mkdir(parents=True, exist_ok=True)
    write_accuracy_result(args, argv, checkpoint, benchmark="verdicts", module="verdicts", fields={
        "count_per_family": args.count, "digits_per_encoding": args.digits, "families": len(FAMILIES),
        "unseen_families": sorted(UNSEEN), "encodings": list(ENCODINGS), "has_detector": has_detector,
        "site": {"workers": args.workers, "threads": args.server_threads, "clients": args.clients,
                 "transport": args.transport, "settings": SITE_SETTINGS, "log": logs["counts"]},
        **summary,
        "targets": {"nondigit_recall": TARGET_NONDIGIT_RECALL, "digits_not_a_digit": TARGET_DIGITS_REFUSED,
                    "digit_accuracy": TARGET_ACCURACY, "digit_accuracy_per_encoding": TARGET_PER_ENCODING,
                    "ece": TARGET_ECE, "met": met, "pass": all(met.values())},
        "seconds": seconds}, sheets=save_sheets(picks, summary, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
