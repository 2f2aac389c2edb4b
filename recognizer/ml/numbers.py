"""Reading a whole number: the ink split into digits, left to right, each read like a single digit. No Django.

    located ink --_pieces--> connected pieces, left to right (specks dropped) --> each read whole; those that are
    not plainly one digit are cut where they may be two touching (along the paths that cross the least ink)
    --> atoms --_best_split--> runs of consecutive atoms, one run per digit --> 28x28 each, read in one batch

Which atoms make one digit (a 5's detached flag, a 4 drawn in two strokes, a broken 8) and which cuts of a
touching pair are real are not decided by rules alone: every plausible run is shown to the network, and the split
kept is the one it is surest of (the most likely reading of the whole number), with soft costs for digits that
overlap more than neighbours do, leave a wide gap inside, are far wider than their class or much shorter than
the line, and for each cut. A digit that may still be two that touch is marked ``touching``: the answer then says
so rather than guess in silence.

Each digit goes through the single-digit steps (``to_mnist``), judged against the height of the line of digits;
when the split finds one digit, the whole ink goes through exactly what a single prediction does.
"""

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .preprocessing import Ink, InvalidImage, _reduce_ink, to_mnist
from .reader import DIGIT, NOT_A_DIGIT, Reading

# The site's promise, quoted by /api/read's refusal and the number form's labels: at most 12 digits. Chosen by hand
# (200708f); not a setting of the split, which cannot change what the API accepts.
MAX_DIGITS_PER_NUMBER = 12

# The tuned values of the split: one frozen dataclass per stage, and one module default each (after them). Each
# function takes its stage's config as ``config=`` (the whole SegmentationConfig where it uses several stages), so
# a caller or a test can vary one value: ``read_number(..., config=replace(SEGMENTATION, costs=replace(COSTS,
# cut=0.2)))``. Lengths are shares of the line's height (the median height of the tall pieces) unless they say
# px. "Chosen by hand" means no measurement behind the value is on record; the commit that set it is named. The
# figures quoted are bench.numbers' (bench/README.md), which exists from 994117d on.


@dataclass(frozen=True)
class PieceRules:
    """How the ink falls into connected pieces, and how tall the line of digits is (``_pieces``)."""
    # Ink above this makes the pieces: the anti-aliased fringe between two close digits cannot join them. Chosen
    # by hand (200708f).
    core: float = 0.35
    # Px (of the located ink) of fringe given back to each piece, so its 28x28 keeps the stroke's soft edge.
    # Chosen by hand (200708f).
    fringe: int = 2
    speck_height: float = 0.2  # a piece under 20 % of the line's height each way... (200708f, by hand)
    speck_share: float = 0.02  # ...with under 2 % of the ink is a speck, not a digit or part of one (200708f, by hand)
    # Pieces at least half as tall as the tallest set the line's height (their median), a 5's lifted flag or a
    # dot not among them. Chosen by hand (200708f).
    tall_enough: float = 0.5


@dataclass(frozen=True)
class CutRules:
    """Where a wide piece may be two digits that touch, and how it is cut: along the paths from top to bottom that
    cross the least ink (``_cut_if_wide``, ``_cheapest_cuts``)."""
    # A piece wider than this may be two digits touching: cuts are tried. Chosen by hand, before the numbers bench:
    # 0.9 in 200708f, 0.75 in 017b746 with the path cuts.
    wide: float = 0.75
    # At most one cut per this much of the piece's width (as a share of the line's height), and at least one: a
    # piece twice the line's height wide is tried with up to 4. Chosen by hand (200708f).
    width_per_cut: float = 0.5
    # Cuts keep this much of the line's height from a piece's ends, and from each other. Chosen by hand (200708f).
    margin: float = 0.2
    # Cuts are found on the piece reduced to about this many rows: the path search is a Python loop over rows.
    # Chosen by hand (017b746).
    rows: int = 48


@dataclass(frozen=True)
class RunLimits:
    """Which runs of neighbouring atoms (pieces, and the parts of cut pieces) may be one digit, and so are read
    (``_candidate_runs``, ``_digit_image``). All chosen by hand (200708f)."""
    # Connected pieces one digit may be made of (with all the cuts of each): a 4 in two strokes, a 5 with its flag
    # lifted, a broken 8. Also how far either side ``_digit_image`` looks for neighbours' ink to leave out.
    max_pieces: int = 3
    max_width: float = 2.0   # a run wider than this many line heights is never one digit...
    inner_gap: float = 0.35  # ...nor one with a gap wider than this inside it
    # Atoms a digit may have on average: past MAX_DIGITS_PER_NUMBER times this, the ink is refused as too many
    # digits before anything is read (a bound on the work, as the number of runs grows with the atoms).
    atoms_per_digit: int = 4

    @property
    def max_atoms(self) -> int:
        return self.atoms_per_digit * MAX_DIGITS_PER_NUMBER


@dataclass(frozen=True)
class DigitShapes:
    """How wide each digit is in MNIST (index: the digit), and how a digit's width is measured (``_aspect``,
    ``_plain``, ``_run_score``, ``_touching``)."""
    # Width / height of each digit's ink in MNIST's training set (threshold 80 of 255): the 99th percentile.
    # Measured (200708f; the measuring script is not in the repository). A digit read wider than this pays
    # log-likelihood in the split (SplitCosts.width); TouchingRules.wide_slack past it, it is taken for two.
    widest: tuple[float, ...] = (1.43, 0.95, 1.67, 1.25, 1.25, 1.67, 1.12, 1.25, 1.25, 1.05)
    # ...the 95th percentile, measured alike (1ee0d75). A piece wider than this for its reading is never plain
    # (1ee0d75, with SplitCosts.free_overlap: bench.numbers' touching set 49 % -> 64 % right, 75 % -> 87 % right or
    # flagged, main set unchanged); a run this wide read as no digit is taken for two that touch (77fa8d1: 89 %
    # right or flagged).
    usual_width: tuple[float, ...] = (1.25, 0.8, 1.33, 1.11, 1.11, 1.43, 1.0, 1.05, 1.05, 0.9)
    # A digit shorter than this share of the line is short: never plain, and its width is measured against this
    # much of the line instead of its own height (a 5's lifted flag is not thereby wide). Chosen by hand (200708f).
    short: float = 0.75


@dataclass(frozen=True)
class PlainRules:
    """When a piece is plainly one digit, read whole in the first round and neither cut nor joined to another
    plain one (``_plain``; also: tall, within its class's usual width, clear of its neighbours). Chosen by hand
    (d520eb5): a plain 4-digit number then costs 4 readings instead of 24, ~9 ms in-process instead of ~30."""
    confidence: float = 0.97  # read as a digit with at least this confidence...
    max_width: float = 1.2    # ...and no wider than this many line heights


@dataclass(frozen=True)
class SplitCosts:
    """What a split pays, in log-likelihood, beside the network's readings of its digits (``_run_score``,
    ``_boundary_cost``): the split kept is the one with the highest total. Chosen by hand (200708f) unless said."""
    width: float = 2.0  # per unit of width / height past the reading's DigitShapes.widest
    # Per unit of two neighbouring digits' horizontal overlap (a share of the narrower) past free_overlap: the two
    # halves of a broken 8 are one digit.
    overlap: float = 3.0
    # Neighbouring digits may overlap this much left to right at no cost (a 1 leaning under a 9 had been joined to
    # it). Chosen by hand and checked on bench.numbers' touching set (1ee0d75, with DigitShapes.usual_width):
    # 49 % -> 64 % right, main set unchanged.
    free_overlap: float = 0.3
    gap: float = 1.5          # per line height of gap inside one digit
    low_height: float = 0.6   # a digit less tall than this share of the line is likely a fragment of one...
    low: float = 5.0          # ...and pays this per line height it falls short (a 5's lifted flag is part of the 5)
    # Per cut used: digits are usually written apart, so a cut needs the network's support. Chosen by hand before
    # the numbers bench: 0.3 in 200708f, 0.1 in 017b746 with the path cuts.
    cut: float = 0.1


@dataclass(frozen=True)
class TouchingRules:
    """When a digit read may still be two that touch: the answer then says so rather than guess in silence
    (``_touching``)."""
    sure: float = 0.9   # a digit from a cut read with less confidence than this is "touching"... (200708f, by hand)
    # ...and so is a piece whose best cut in two is less than this much less likely (log). Chosen by hand (017b746).
    doubt: float = 0.1
    # A digit this much wider (width / height) than its DigitShapes.widest is taken for two that touch: drawn
    # strokes widen a digit, so canvas digits run wider than MNIST's. Chosen by hand (d520eb5).
    wide_slack: float = 0.15


@dataclass(frozen=True)
class SegmentationConfig:
    """Every stage's config, for the functions that use several (read_number and most of its helpers)."""
    pieces: PieceRules = PieceRules()
    cuts: CutRules = CutRules()
    runs: RunLimits = RunLimits()
    shapes: DigitShapes = DigitShapes()
    plain: PlainRules = PlainRules()
    costs: SplitCosts = SplitCosts()
    touching: TouchingRules = TouchingRules()


SEGMENTATION = SegmentationConfig()
PIECES, CUTS, RUNS, SHAPES, PLAIN, COSTS, TOUCHING = (
    SEGMENTATION.pieces, SEGMENTATION.cuts, SEGMENTATION.runs, SEGMENTATION.shapes, SEGMENTATION.plain,
    SEGMENTATION.costs, SEGMENTATION.touching)


class TooManyDigits(InvalidImage):
    pass


@dataclass(frozen=True)
class Atom:
    """Ink that belongs to one digit: a connected piece, or the columns of one between two cuts."""
    mask: np.ndarray     # bool, over its own box below, in the ink crop
    left: int
    right: int           # exclusive
    top: int
    bottom: int          # exclusive
    piece: int           # which connected piece it is (the cuts of one share it)
    cut: bool = False    # made by cutting a piece


Run = tuple[int, int]  # atoms[start:stop]: the atoms of one candidate digit


@dataclass(frozen=True)
class NumberDigit:
    reading: Reading
    box: tuple[int, int, int, int]  # x, y, width, height in the posted image
    digit_image: np.ndarray         # (28, 28) uint8, as the network saw it
    touching: bool


Reader = Callable[[np.ndarray], Sequence[Reading]]  # (N, 28, 28) uint8 -> one Reading each


def read_number(ink: Ink, image_size: tuple[int, int], read: Reader, *,
                config: SegmentationConfig = SEGMENTATION) -> list[NumberDigit]:
    """The digits of the number in ``ink`` (as preprocessing.located_ink finds it), left to right. Raises
    InvalidImage when there is no digit, TooManyDigits past MAX_DIGITS_PER_NUMBER.

    Read in two rounds, so that a plainly written number costs little more than its digits: first each piece
    whole; then, only around the pieces that are not plainly one digit each, the cuts and the runs of pieces."""
    pieces, height = _pieces(ink.pixels, config=config)
    if not pieces:
        to_mnist(_reduce_ink(ink))  # refuses a blank or a speck in the single digit's words
    readings = Readings(ink, height, read, config=config)
    readings.read(pieces, [(i, i + 1) for i in range(len(pieces))])
    plain = [_plain(pieces, index, height, readings.of(pieces, (index, index + 1)), config=config)
             for index in range(len(pieces))]
    atoms = [atom for piece, alone in zip(pieces, plain, strict=True)
             for atom in ([piece] if alone else _cut_if_wide(piece, height, config=config.cuts))]
    if len(atoms) > config.runs.max_atoms:
        raise _too_many()
    alone = {piece.piece for piece, is_plain in zip(pieces, plain, strict=True) if is_plain}
    runs = [run for run in _candidate_runs(atoms, height, config=config.runs)
            if run[1] - run[0] == 1 or not all(atom.piece in alone for atom in atoms[run[0]:run[1]])]
    readings.read(atoms, runs)
    found = {run: readings.of(atoms, run) for run in runs if readings.of(atoms, run) is not None}
    split = _best_split(atoms, height, found, config=config)
    if split is None or len(split) == 1:
        whole = to_mnist(_reduce_ink(ink))
        rows, cols = ink.pixels.shape
        touching = bool(split) and _touching(atoms, height, found, split[0], config=config)
        return [NumberDigit(read(whole[None])[0], _posted_box(ink, 0, cols, 0, rows, image_size), whole, touching)]
    if len(split) > MAX_DIGITS_PER_NUMBER:
        raise _too_many()
    digits = []
    for run in split:
        left, right, top, bottom = _span(atoms, run)
        digits.append(NumberDigit(found[run], _posted_box(ink, left, right, top, bottom, image_size),
                                  readings.image(atoms, run), _touching(atoms, height, found, run, config=config)))
    return digits


class Readings:
    """The network's reading of each run of atoms it has been shown, kept by the ink the run holds, so a run is
    read once whichever round or list of atoms asks for it (a piece whole, or all the cuts of it)."""

    def __init__(self, ink: Ink, height: float, read: Reader, *, config: SegmentationConfig = SEGMENTATION) -> None:
        self.ink, self.height, self.reader, self.config = ink, height, read, config
        self.known: dict[tuple, tuple[np.ndarray | None, Reading | None]] = {}

    @staticmethod
    def key(atoms: list[Atom], run: Run) -> tuple:
        return tuple(sorted((atom.piece, atom.left, atom.right, atom.top) for atom in atoms[run[0]:run[1]]))

    def read(self, atoms: list[Atom], runs: list[Run]) -> None:
        new = {}
        for run in runs:
            key = self.key(atoms, run)
            if key not in self.known and key not in new:
                new[key] = _digit_image(self.ink, atoms, run, self.height, config=self.config)
        readable = [key for key, image in new.items() if image is not None]
        answers = self.reader(np.stack([new[key] for key in readable])) if readable else []
        self.known.update({key: (image, None) for key, image in new.items()})
        self.known.update({key: (new[key], answer) for key, answer in zip(readable, answers, strict=True)})

    def of(self, atoms: list[Atom], run: Run) -> Reading | None:
        return self.known[self.key(atoms, run)][1]

    def image(self, atoms: list[Atom], run: Run) -> np.ndarray:
        return self.known[self.key(atoms, run)][0]


def _plain(pieces: list[Atom], index: int, height: float, reading: Reading | None, *,
           config: SegmentationConfig = SEGMENTATION) -> bool:
    """Whether a piece is plainly one digit on its own: read with confidence as a digit, as tall as the line,
    not so wide that it may be two, and clear of its neighbours left to right. Such a piece is neither cut nor
    joined to another plain one."""
    piece, rules, shapes = pieces[index], config.plain, config.shapes
    if reading is None or reading.verdict != DIGIT or reading.confidence < rules.confidence:
        return False
    if piece.bottom - piece.top < shapes.short * height or piece.right - piece.left > rules.max_width * height:
        return False
    if (piece.right - piece.left) / (piece.bottom - piece.top) > shapes.usual_width[reading.digit]:  # two, touching?
        return False
    neighbours = pieces[max(0, index - 1):index] + pieces[index + 1:index + 2]
    return all(min(piece.right, other.right) <= max(piece.left, other.left) for other in neighbours)


def _too_many() -> TooManyDigits:
    return TooManyDigits(f"That is too many digits: at most {MAX_DIGITS_PER_NUMBER} can be read at once. "
                         "Write a shorter number, or leave out what is not a digit.")


# ---- Atoms ----

def _pieces(pixels: np.ndarray, *, config: SegmentationConfig = SEGMENTATION) -> tuple[list[Atom], float]:
    """The connected pieces of ink left to right (by centre), specks left out; and the line's height."""
    rules = config.pieces
    labels, count = ndimage.label(pixels > rules.core, structure=np.ones((3, 3)))
    if count == 0:
        return [], 1.0
    boxes = ndimage.find_objects(labels)
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    heights = np.array([b[0].stop - b[0].start for b in boxes])
    widths = np.array([b[1].stop - b[1].start for b in boxes])
    line = float(heights.max())
    specks = (np.maximum(heights, widths) < rules.speck_height * line) & (areas < rules.speck_share * areas.sum())
    height = float(np.median(heights[~specks & (heights >= rules.tall_enough * line)]))
    if (~specks).sum() > config.runs.max_atoms:
        raise _too_many()
    pieces = [Atom(labels[boxes[index]] == index + 1, boxes[index][1].start, boxes[index][1].stop,
                   boxes[index][0].start, boxes[index][0].stop, int(index)) for index in np.flatnonzero(~specks)]
    pieces.sort(key=lambda atom: (atom.left + atom.right) / 2)
    return pieces, height


def _cut_if_wide(atom: Atom, height: float, *, config: CutRules = CUTS) -> list[Atom]:
    """A piece wider than a digit usually is, cut along the paths from top to bottom that cross the least ink:
    where two digits touch or overlap, such a path follows the gap between them and crosses only where they meet."""
    width = atom.right - atom.left
    if width <= config.wide * height:
        return [atom]
    most = max(1, math.ceil(width / (config.width_per_cut * height)))
    boundaries = _cheapest_cuts(atom.mask, height, most=most, config=config)
    columns = np.arange(width)[None, :]
    edges = [np.zeros(atom.mask.shape[0], int), *boundaries, np.full(atom.mask.shape[0], width)]
    pieces = []
    for low, high in itertools.pairwise(edges):
        part = atom.mask & (columns >= low[:, None]) & (columns < high[:, None])
        rows, cols = np.flatnonzero(part.any(1)), np.flatnonzero(part.any(0))
        if len(rows):
            pieces.append(Atom(part[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], atom.left + int(cols[0]),
                               atom.left + int(cols[-1]) + 1, atom.top + int(rows[0]), atom.top + int(rows[-1]) + 1,
                               atom.piece, cut=True))
    return pieces


def _cheapest_cuts(mask: np.ndarray, height: float, *, most: int, config: CutRules = CUTS) -> list[np.ndarray]:
    """Up to ``most`` cuts through a piece's mask, left to right, each as the first column of its right side on
    every row. Worked out on the mask reduced to about ``rows`` rows (a dynamic programme row by row: a path moves
    at most one column a row), keeping ``margin`` of the line height clear of the ends and between cuts."""
    rows, width = mask.shape
    step = max(1, math.ceil(rows / config.rows))
    padded = np.pad(mask, ((0, -rows % step), (0, -width % step)))
    coarse = padded.reshape(padded.shape[0] // step, step, padded.shape[1] // step, step).any(axis=(1, 3))
    margin = max(1, round(config.margin * height / step))
    count, span = coarse.shape
    if span <= 2 * margin:
        return []
    ink = coarse.astype(np.float32)
    ink[:, :margin] = ink[:, span - margin:] = np.inf
    cost, came_from = ink[0].copy(), np.zeros((count, span), np.int8)
    beside = np.full(1, np.inf, np.float32)
    for row in range(1, count):
        options = np.stack([np.concatenate([beside, cost[:-1]]), cost, np.concatenate([cost[1:], beside])])
        choice = options.argmin(axis=0)
        came_from[row] = choice - 1
        cost = options[choice, np.arange(span)] + ink[row]
    ends: list[int] = []
    for end in np.argsort(cost, kind="stable"):
        if not np.isfinite(cost[end]) or len(ends) >= most:
            break
        if all(abs(int(end) - kept) >= margin for kept in ends):
            ends.append(int(end))
    boundaries = []
    for end in sorted(ends):
        path = np.empty(count, int)
        path[-1] = end
        for row in range(count - 1, 0, -1):
            path[row - 1] = path[row] + came_from[row, path[row]]
        boundary = np.repeat(path * step + step // 2, step)[:rows]
        boundaries.append(boundary if not boundaries else np.maximum(boundary, boundaries[-1]))
    return boundaries


# ---- Runs of atoms: one candidate digit each ----



def _span(atoms: list[Atom], run: Run) -> tuple[int, int, int, int]:
    chosen = atoms[run[0]:run[1]]
    return (min(a.left for a in chosen), max(a.right for a in chosen), min(a.top for a in chosen),
            max(a.bottom for a in chosen))


def _inner_gap(atoms: list[Atom], run: Run) -> int:
    """The widest stretch of columns inside the run that no atom of it covers."""
    left, right, _, _ = _span(atoms, run)
    covered = np.zeros(right - left, bool)
    for atom in atoms[run[0]:run[1]]:
        covered[atom.left - left:atom.right - left] = True
    gaps = np.diff(np.flatnonzero(np.diff(np.concatenate([[True], covered, [True]]).astype(int))))[::2]
    return int(gaps.max()) if len(gaps) else 0


def _candidate_runs(atoms: list[Atom], height: float, *, config: RunLimits = RUNS) -> list[Run]:
    runs = []
    for start in range(len(atoms)):
        for stop in range(start + 1, len(atoms) + 1):
            left, right, _, _ = _span(atoms, (start, stop))
            if stop - start > 1 and (right - left > config.max_width * height
                                     or len({atom.piece for atom in atoms[start:stop]}) > config.max_pieces
                                     or _inner_gap(atoms, (start, stop)) > config.inner_gap * height):
                break
            runs.append((start, stop))
    return runs


def _digit_image(ink: Ink, atoms: list[Atom], run: Run, height: float, *,
                 config: SegmentationConfig = SEGMENTATION) -> np.ndarray | None:
    """The run's ink (with its fringe, none of its neighbours') as a 28x28 digit; None when it is no digit's
    worth of ink (a dot, a speck)."""
    fringe, max_pieces = config.pieces.fringe, config.runs.max_pieces
    left, right, top, bottom = _span(atoms, run)
    top_edge, left_edge = max(0, top - fringe), max(0, left - fringe)
    rows, cols = slice(top_edge, bottom + fringe), slice(left_edge, right + fringe)
    window = ink.pixels[rows, cols]
    mask = np.zeros(window.shape, bool)
    for atom in atoms[run[0]:run[1]]:
        _paint(mask, atom, top_edge, left_edge)
    others = np.zeros(window.shape, bool)  # the ink of neighbours and of the other side of a cut stays out
    for atom in atoms[max(0, run[0] - max_pieces):run[0]] + atoms[run[1]:run[1] + max_pieces]:
        _paint(others, atom, top_edge, left_edge)
    grown = ndimage.binary_dilation(mask, iterations=fringe) & ~others
    piece = np.where(grown, window, 0.0).astype(np.float32)
    try:
        return to_mnist(_reduce_ink(Ink(piece, max(1, round(height)))))
    except InvalidImage:
        return None


def _paint(canvas: np.ndarray, atom: Atom, top: int, left: int) -> None:
    """Mark the atom's ink on a window of the crop whose corner is (top, left); what falls outside is left out."""
    rows = slice(max(atom.top - top, 0), max(min(atom.bottom - top, canvas.shape[0]), 0))
    cols = slice(max(atom.left - left, 0), max(min(atom.right - left, canvas.shape[1]), 0))
    if rows.stop > rows.start and cols.stop > cols.start:
        canvas[rows, cols] |= atom.mask[rows.start - (atom.top - top):rows.stop - (atom.top - top),
                                        cols.start - (atom.left - left):cols.stop - (atom.left - left)]


# ---- The split the network is surest of ----

def _score(reading: Reading) -> float:
    """How likely the run is one digit: its best class's probability, times that it is a digit at all."""
    is_digit = 1.0 if reading.not_a_digit_score is None else 1.0 - reading.not_a_digit_score
    return math.log(max(reading.confidence, 1e-9)) + math.log(max(is_digit, 1e-9))


def _best_split(atoms: list[Atom], height: float, readings: dict[Run, Reading], *,
                config: SegmentationConfig = SEGMENTATION) -> list[Run] | None:
    """The runs covering every atom, in order, with the highest total: the sum of each run's score, less the costs
    of neighbours overlapping and of gaps inside a digit. A dynamic programme over (previous run, this run)."""
    if not atoms:
        return None
    best: dict[Run, tuple[float, list[Run]]] = {}
    for run in sorted(readings, key=lambda r: r[1]):
        own = _run_score(atoms, height, run, readings[run], config=config)
        if run[0] == 0:
            best[run] = (own, [run])
            continue
        at_cut = atoms[run[0] - 1].cut and atoms[run[0]].cut and atoms[run[0] - 1].piece == atoms[run[0]].piece
        options = [(total - _boundary_cost(atoms, path[-1], run, at_cut=at_cut, config=config.costs), path)
                   for previous, (total, path) in best.items() if previous[1] == run[0]]
        if options:
            total, path = max(options, key=lambda option: option[0])
            best[run] = (total + own, [*path, run])
    complete = [value for run, value in best.items() if run[1] == len(atoms)]
    return max(complete, key=lambda value: value[0])[1] if complete else None


def _boundary_cost(atoms: list[Atom], first: Run, second: Run, *, at_cut: bool, config: SplitCosts = COSTS) -> float:
    """What it costs to say two neighbouring runs are two digits: how much more they overlap left to right than
    neighbouring digits do (a slanted 1 may tuck under a 7's bar), and the cut between them if there is one."""
    overlap = config.overlap * max(0.0, _overlap(atoms, first, second) - config.free_overlap)
    return overlap + (config.cut if at_cut else 0.0)


def _run_score(atoms: list[Atom], height: float, run: Run, reading: Reading, *,
               config: SegmentationConfig = SEGMENTATION) -> float:
    """How likely the run is one digit, as the network reads it and as digits are shaped."""
    costs = config.costs
    _, _, top, bottom = _span(atoms, run)
    return (_score(reading) - costs.gap * _inner_gap(atoms, run) / height
            - costs.width * max(0.0, _aspect(atoms, run, height, config=config.shapes)
                                - config.shapes.widest[reading.digit])
            - costs.low * max(0.0, costs.low_height - (bottom - top) / height))


def _aspect(atoms: list[Atom], run: Run, height: float, *, config: DigitShapes = SHAPES) -> float:
    """The run's width over its height; a run much shorter than the line is measured against ``short`` of it."""
    left, right, top, bottom = _span(atoms, run)
    return (right - left) / max(bottom - top, config.short * height)


def _overlap(atoms: list[Atom], first: Run, second: Run) -> float:
    """How much two neighbouring digits overlap left to right, as a share of the narrower one."""
    a_left, a_right, _, _ = _span(atoms, first)
    b_left, b_right, _, _ = _span(atoms, second)
    shared = min(a_right, b_right) - max(a_left, b_left)
    return max(0.0, shared / max(1, min(a_right - a_left, b_right - b_left)))


def _touching(atoms: list[Atom], height: float, readings: dict[Run, Reading], run: Run, *,
              config: SegmentationConfig = SEGMENTATION) -> bool:
    """Whether the digit may be two that touch: too wide for the digit it reads as (or wide, and no digit at all);
    cut from a piece and read without confidence; or a piece that could be cut in two nearly as likely as not."""
    reading, rules, shapes = readings[run], config.touching, config.shapes
    aspect = _aspect(atoms, run, height, config=shapes)
    if aspect > shapes.widest[reading.digit] + rules.wide_slack or (reading.verdict == NOT_A_DIGIT
                                                                    and aspect > shapes.usual_width[reading.digit]):
        return True
    if any(atom.cut for atom in atoms[run[0]:run[1]]) and reading.confidence < rules.sure:
        return True
    own = _run_score(atoms, height, run, reading, config=config)
    for middle in range(run[0] + 1, run[1]):
        left, right = (run[0], middle), (middle, run[1])
        if atoms[middle - 1].piece == atoms[middle].piece and left in readings and right in readings:
            halves = (_run_score(atoms, height, left, readings[left], config=config)
                      + _run_score(atoms, height, right, readings[right], config=config) - config.costs.cut)
            if halves >= own - rules.doubt:
                return True
    return False


def _posted_box(ink: Ink, left: int, right: int, top: int, bottom: int,
                image_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A box in the ink crop's pixels as x, y, width, height in the posted image, inside it."""
    width, height = image_size
    x0 = min(max(0, ink.origin[0] + left * ink.scale), width - 1)
    y0 = min(max(0, ink.origin[1] + top * ink.scale), height - 1)
    x1 = min(width, max(x0 + 1, ink.origin[0] + right * ink.scale))
    y1 = min(height, max(y0 + 1, ink.origin[1] + bottom * ink.scale))
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)
