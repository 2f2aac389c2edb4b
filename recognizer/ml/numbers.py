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

MAX_DIGITS_PER_NUMBER = 12
CORE = 0.35             # ink above this makes the pieces: the anti-aliased fringe cannot join two digits
FRINGE = 2              # px of fringe given back to each piece, so its 28x28 keeps the stroke's soft edge
SPECK_HEIGHT = 0.2      # a piece under 20 % of the line's height each way...
SPECK_SHARE = 0.02      # ...with under 2 % of the ink is a speck, not a digit or part of one
TALL_ENOUGH = 0.5       # pieces at least half as tall as the tallest set the line's height
MAX_PIECES = 3          # connected pieces one digit may be made of (with all the cuts of each)
MAX_DIGIT_WIDTH = 2.0   # a run wider than this many line heights is never one digit
INNER_GAP = 0.35        # ...nor one with a gap wider than this inside it
WIDE = 0.75             # a piece wider than this may be two digits touching: cut candidates are tried
CUT_MARGIN = 0.2        # cuts keep this much of the line height from a piece's ends, and from each other
CUT_ROWS = 48           # cuts are found on the piece reduced to about this many rows
PLAIN = 0.97            # a piece read with at least this confidence may be plainly one digit (see _plain)...
PLAIN_WIDTH = 1.2       # ...when no wider than this many line heights
SURE = 0.9              # a digit from a cut read with less confidence than this is "touching"...
DOUBT = 0.1             # ...and so is a piece whose best cut in two is less than this much less likely (log)
# Width / height of each digit's ink in MNIST's training set (threshold 80 of 255): the 99th percentile. A digit
# read wider than that pays log-likelihood in the split; WIDE_SLACK past it, it is taken for two that touch.
WIDEST = (1.43, 0.95, 1.67, 1.25, 1.25, 1.67, 1.12, 1.25, 1.25, 1.05)
USUAL_WIDTH = (1.25, 0.8, 1.33, 1.11, 1.11, 1.43, 1.0, 1.05, 1.05, 0.9)  # the 95th percentile
WIDE_SLACK = 0.15       # a digit this much wider than WIDEST is taken for two that touch (drawn strokes widen a
                        # digit: canvas digits run wider than MNIST's)
WIDTH_COST = 2.0        # log-likelihood paid per unit of width / height past WIDEST
OVERLAP_COST = 3.0      # ...per unit of two neighbouring digits' horizontal overlap (a share of the narrower)
GAP_COST = 1.5          # ...per line height of gap inside one digit
SHORT = 0.75            # a digit's width is never measured against less than this share of the line's height
LOW = 0.6               # a digit less tall than this share of the line is likely a fragment of one...
LOW_COST = 5.0          # ...and pays this per line height it falls short
CUT_COST = 0.1          # ...and per cut used: digits are usually written apart, so a cut needs the network's support
NEIGHBOURS_OVERLAP = 0.3  # neighbouring digits may overlap this much left to right at no cost
MAX_ATOMS = 4 * MAX_DIGITS_PER_NUMBER


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


def read_number(ink: Ink, image_size: tuple[int, int], read: Reader) -> list[NumberDigit]:
    """The digits of the number in ``ink`` (as preprocessing.located_ink finds it), left to right. Raises
    InvalidImage when there is no digit, TooManyDigits past MAX_DIGITS_PER_NUMBER.

    Read in two rounds, so that a plainly written number costs little more than its digits: first each piece
    whole; then, only around the pieces that are not plainly one digit each, the cuts and the runs of pieces."""
    pieces, height = _pieces(ink.pixels)
    if not pieces:
        to_mnist(_reduce_ink(ink))  # refuses a blank or a speck in the single digit's words
    readings = Readings(ink, height, read)
    readings.read(pieces, [(i, i + 1) for i in range(len(pieces))])
    plain = [_plain(pieces, index, height, readings.of(pieces, (index, index + 1))) for index in range(len(pieces))]
    atoms = [atom for piece, alone in zip(pieces, plain, strict=True)
             for atom in ([piece] if alone else _cut_if_wide(piece, height))]
    if len(atoms) > MAX_ATOMS:
        raise _too_many()
    alone = {piece.piece for piece, is_plain in zip(pieces, plain, strict=True) if is_plain}
    runs = [run for run in _candidate_runs(atoms, height)
            if run[1] - run[0] == 1 or not all(atom.piece in alone for atom in atoms[run[0]:run[1]])]
    readings.read(atoms, runs)
    found = {run: readings.of(atoms, run) for run in runs if readings.of(atoms, run) is not None}
    split = _best_split(atoms, height, found)
    if split is None or len(split) == 1:
        whole = to_mnist(_reduce_ink(ink))
        rows, cols = ink.pixels.shape
        touching = bool(split) and _touching(atoms, height, found, split[0])
        return [NumberDigit(read(whole[None])[0], _posted_box(ink, 0, cols, 0, rows, image_size), whole, touching)]
    if len(split) > MAX_DIGITS_PER_NUMBER:
        raise _too_many()
    digits = []
    for run in split:
        left, right, top, bottom = _span(atoms, run)
        digits.append(NumberDigit(found[run], _posted_box(ink, left, right, top, bottom, image_size),
                                  readings.image(atoms, run), _touching(atoms, height, found, run)))
    return digits


class Readings:
    """The network's reading of each run of atoms it has been shown, kept by the ink the run holds, so a run is
    read once whichever round or list of atoms asks for it (a piece whole, or all the cuts of it)."""

    def __init__(self, ink: Ink, height: float, read: Reader) -> None:
        self.ink, self.height, self.reader = ink, height, read
        self.known: dict[tuple, tuple[np.ndarray | None, Reading | None]] = {}

    @staticmethod
    def key(atoms: list[Atom], run: Run) -> tuple:
        return tuple(sorted((atom.piece, atom.left, atom.right, atom.top) for atom in atoms[run[0]:run[1]]))

    def read(self, atoms: list[Atom], runs: list[Run]) -> None:
        new = {}
        for run in runs:
            key = self.key(atoms, run)
            if key not in self.known and key not in new:
                new[key] = _digit_image(self.ink, atoms, run, self.height)
        readable = [key for key, image in new.items() if image is not None]
        answers = self.reader(np.stack([new[key] for key in readable])) if readable else []
        self.known.update({key: (image, None) for key, image in new.items()})
        self.known.update({key: (new[key], answer) for key, answer in zip(readable, answers, strict=True)})

    def of(self, atoms: list[Atom], run: Run) -> Reading | None:
        return self.known[self.key(atoms, run)][1]

    def image(self, atoms: list[Atom], run: Run) -> np.ndarray:
        return self.known[self.key(atoms, run)][0]


def _plain(pieces: list[Atom], index: int, height: float, reading: Reading | None) -> bool:
    """Whether a piece is plainly one digit on its own: read with confidence as a digit, as tall as the line,
    not so wide that it may be two, and clear of its neighbours left to right. Such a piece is neither cut nor
    joined to another plain one."""
    piece = pieces[index]
    if reading is None or reading.verdict != DIGIT or reading.confidence < PLAIN:
        return False
    if piece.bottom - piece.top < SHORT * height or piece.right - piece.left > PLAIN_WIDTH * height:
        return False
    if (piece.right - piece.left) / (piece.bottom - piece.top) > USUAL_WIDTH[reading.digit]:  # two, touching?
        return False
    neighbours = pieces[max(0, index - 1):index] + pieces[index + 1:index + 2]
    return all(min(piece.right, other.right) <= max(piece.left, other.left) for other in neighbours)


def _too_many() -> TooManyDigits:
    return TooManyDigits(f"That is too many digits: at most {MAX_DIGITS_PER_NUMBER} can be read at once. "
                         "Write a shorter number, or leave out what is not a digit.")


# ---- Atoms ----

def _pieces(pixels: np.ndarray) -> tuple[list[Atom], float]:
    """The connected pieces of ink left to right (by centre), specks left out; and the line's height."""
    labels, count = ndimage.label(pixels > CORE, structure=np.ones((3, 3)))
    if count == 0:
        return [], 1.0
    boxes = ndimage.find_objects(labels)
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    heights = np.array([b[0].stop - b[0].start for b in boxes])
    widths = np.array([b[1].stop - b[1].start for b in boxes])
    line = float(heights.max())
    specks = (np.maximum(heights, widths) < SPECK_HEIGHT * line) & (areas < SPECK_SHARE * areas.sum())
    height = float(np.median(heights[~specks & (heights >= TALL_ENOUGH * line)]))
    if (~specks).sum() > MAX_ATOMS:
        raise _too_many()
    pieces = [Atom(labels[boxes[index]] == index + 1, boxes[index][1].start, boxes[index][1].stop,
                   boxes[index][0].start, boxes[index][0].stop, int(index)) for index in np.flatnonzero(~specks)]
    pieces.sort(key=lambda atom: (atom.left + atom.right) / 2)
    return pieces, height


def _cut_if_wide(atom: Atom, height: float) -> list[Atom]:
    """A piece wider than a digit usually is, cut along the paths from top to bottom that cross the least ink:
    where two digits touch or overlap, such a path follows the gap between them and crosses only where they meet."""
    width = atom.right - atom.left
    if width <= WIDE * height:
        return [atom]
    boundaries = _cheapest_cuts(atom.mask, height, most=max(1, math.ceil(width / (0.5 * height))))
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


def _cheapest_cuts(mask: np.ndarray, height: float, *, most: int) -> list[np.ndarray]:
    """Up to ``most`` cuts through a piece's mask, left to right, each as the first column of its right side on
    every row. Worked out on the mask reduced to about CUT_ROWS rows (a dynamic programme row by row: a path moves
    at most one column a row), keeping CUT_MARGIN of the line height clear of the ends and between cuts."""
    rows, width = mask.shape
    step = max(1, math.ceil(rows / CUT_ROWS))
    padded = np.pad(mask, ((0, -rows % step), (0, -width % step)))
    coarse = padded.reshape(padded.shape[0] // step, step, padded.shape[1] // step, step).any(axis=(1, 3))
    margin = max(1, round(CUT_MARGIN * height / step))
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


def _candidate_runs(atoms: list[Atom], height: float) -> list[Run]:
    runs = []
    for start in range(len(atoms)):
        for stop in range(start + 1, len(atoms) + 1):
            left, right, _, _ = _span(atoms, (start, stop))
            if stop - start > 1 and (right - left > MAX_DIGIT_WIDTH * height
                                     or len({atom.piece for atom in atoms[start:stop]}) > MAX_PIECES
                                     or _inner_gap(atoms, (start, stop)) > INNER_GAP * height):
                break
            runs.append((start, stop))
    return runs


def _digit_image(ink: Ink, atoms: list[Atom], run: Run, height: float) -> np.ndarray | None:
    """The run's ink (with its fringe, none of its neighbours') as a 28x28 digit; None when it is no digit's
    worth of ink (a dot, a speck)."""
    left, right, top, bottom = _span(atoms, run)
    top_edge, left_edge = max(0, top - FRINGE), max(0, left - FRINGE)
    rows, cols = slice(top_edge, bottom + FRINGE), slice(left_edge, right + FRINGE)
    window = ink.pixels[rows, cols]
    mask = np.zeros(window.shape, bool)
    for atom in atoms[run[0]:run[1]]:
        _paint(mask, atom, top_edge, left_edge)
    others = np.zeros(window.shape, bool)  # the ink of neighbours and of the other side of a cut stays out
    for atom in atoms[max(0, run[0] - MAX_PIECES):run[0]] + atoms[run[1]:run[1] + MAX_PIECES]:
        _paint(others, atom, top_edge, left_edge)
    grown = ndimage.binary_dilation(mask, iterations=FRINGE) & ~others
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


def _best_split(atoms: list[Atom], height: float, readings: dict[Run, Reading]) -> list[Run] | None:
    """The runs covering every atom, in order, with the highest total: the sum of each run's score, less the costs
    of neighbours overlapping and of gaps inside a digit. A dynamic programme over (previous run, this run)."""
    if not atoms:
        return None
    best: dict[Run, tuple[float, list[Run]]] = {}
    for run in sorted(readings, key=lambda r: r[1]):
        own = _run_score(atoms, height, run, readings[run])
        if run[0] == 0:
            best[run] = (own, [run])
            continue
        at_cut = atoms[run[0] - 1].cut and atoms[run[0]].cut and atoms[run[0] - 1].piece == atoms[run[0]].piece
        options = [(total - _boundary_cost(atoms, path[-1], run, at_cut=at_cut), path)
                   for previous, (total, path) in best.items() if previous[1] == run[0]]
        if options:
            total, path = max(options, key=lambda option: option[0])
            best[run] = (total + own, [*path, run])
    complete = [value for run, value in best.items() if run[1] == len(atoms)]
    return max(complete, key=lambda value: value[0])[1] if complete else None


def _boundary_cost(atoms: list[Atom], first: Run, second: Run, *, at_cut: bool) -> float:
    """What it costs to say two neighbouring runs are two digits: how much more they overlap left to right than
    neighbouring digits do (a slanted 1 may tuck under a 7's bar), and the cut between them if there is one."""
    overlap = OVERLAP_COST * max(0.0, _overlap(atoms, first, second) - NEIGHBOURS_OVERLAP)
    return overlap + (CUT_COST if at_cut else 0.0)


def _run_score(atoms: list[Atom], height: float, run: Run, reading: Reading) -> float:
    """How likely the run is one digit, as the network reads it and as digits are shaped."""
    _, _, top, bottom = _span(atoms, run)
    return (_score(reading) - GAP_COST * _inner_gap(atoms, run) / height
            - WIDTH_COST * max(0.0, _aspect(atoms, run, height) - WIDEST[reading.digit])
            - LOW_COST * max(0.0, LOW - (bottom - top) / height))


def _aspect(atoms: list[Atom], run: Run, height: float) -> float:
    """The run's width over its height; a run much shorter than the line is measured against 3/4 of the line."""
    left, right, top, bottom = _span(atoms, run)
    return (right - left) / max(bottom - top, SHORT * height)


def _overlap(atoms: list[Atom], first: Run, second: Run) -> float:
    """How much two neighbouring digits overlap left to right, as a share of the narrower one."""
    a_left, a_right, _, _ = _span(atoms, first)
    b_left, b_right, _, _ = _span(atoms, second)
    shared = min(a_right, b_right) - max(a_left, b_left)
    return max(0.0, shared / max(1, min(a_right - a_left, b_right - b_left)))


def _touching(atoms: list[Atom], height: float, readings: dict[Run, Reading], run: Run) -> bool:
    """Whether the digit may be two that touch: too wide for the digit it reads as (or wide, and no digit at all);
    cut from a piece and read without confidence; or a piece that could be cut in two nearly as likely as not."""
    reading = readings[run]
    aspect = _aspect(atoms, run, height)
    if aspect > WIDEST[reading.digit] + WIDE_SLACK or (reading.verdict == NOT_A_DIGIT
                                                        and aspect > USUAL_WIDTH[reading.digit]):
        return True
    if any(atom.cut for atom in atoms[run[0]:run[1]]) and reading.confidence < SURE:
        return True
    own = _run_score(atoms, height, run, reading)
    for middle in range(run[0] + 1, run[1]):
        left, right = (run[0], middle), (middle, run[1])
        if atoms[middle - 1].piece == atoms[middle].piece and left in readings and right in readings:
            halves = (_run_score(atoms, height, left, readings[left]) + _run_score(atoms, height, right, readings[right])
                      - CUT_COST)
            if halves >= own - DOUBT:
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
