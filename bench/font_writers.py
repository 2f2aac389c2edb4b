"""Writers the model never saw, that are not MNIST: stroke fonts, handwriting fonts and pen writers, each one writer.

A *writer* is a shape for each digit and a ``Hand`` (bench/pen_digits.py): the ranges their drawings vary in.
Every writer's digits are drawn the same way, by ``training.ml.strokes.render``: strokes of control points bent
as a hand bends them (the writer's own slant, tilt and width, a wobble at every corner, a smooth warp over the
whole digit), placed at a random size and place on the page's 280 px canvas and drawn with the page's round pen
(1/14 of the canvas's height, static/recognizer/pad.js LINE_WIDTH), dark ink on a transparent canvas, as the
page posts it. The shapes come from three sources:

- **Hershey stroke fonts** (Debian's ``hershey-fonts-data``, ``/usr/share/hershey-fonts/*.jhf``): each glyph is
  already a few pen strokes. JHF is read here: a record is a 5-character id, a 3-character count of coordinate
  pairs, then the pairs as characters, each coordinate ``ord(c) - ord("R")`` (y down); the first pair is the
  glyph's left and right edges and ``" R"`` lifts the pen. A record longer than a line goes on on the next.
  Glyphs are ASCII 32 on, so "0" is the 17th record. A polyline is cut where it turns sharply, so a corner
  stays a corner when the strokes are smoothed. Faces with the same digits (futural, rowmans and cursive;
  scripts, scriptc and timesi...) are one writer.
- **Handwriting-like TrueType/OpenType fonts** from Debian packages: each digit is rendered with PIL's
  ImageFont about 128 px high, thinned to a one-pixel skeleton (Zhang-Suen) and traced into polylines
  (endpoint to junction, junction to junction, closed loops), spurs from the thinning dropped. So a font
  is written with the page's pen whatever its own weight.
- **Pen writers** of bench/pen_digits.py: one of its shapes for each digit and a Hand of their own, with
  slants, widths, tilts and sizes no other bench, test or training run uses.

Writers are split once, by hand, into two fixed, disjoint sets: ``tune``, for choosing hyperparameters on, and
``report``, only for reporting; each set mixes all three sources. A writer's hand (where not given) comes from
a random stream keyed on its name, so adding a writer changes no other one's drawings.
"""

import functools
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from bench.pen_digits import SHAPES, Hand, PenSample, Shapes, iter_pen_digits
from training.ml.strokes import Point, Stroke

HERSHEY_DIR = Path("/usr/share/hershey-fonts")
PAGE = {"other_canvas_share": 0.0, "page_pen_share": 1.0}  # the page's 280 px canvas and pen, always
CORNER_DEGREES = 50.0   # a Hershey polyline turning more than this is cut there: the two sides are separate segments
GLYPH_HEIGHT = 128      # px a font's digits are rendered at before thinning
TRACE_STEP = 6          # keep every 6th skeleton pixel of a traced line (and its ends) as a control point
SPLITS = ("tune", "report")


# --- Hershey stroke fonts ------------------------------------------------------------------------------------

def jhf_records(text: str) -> list[str]:
    """The glyph records of a JHF file, each joined into one string (a long record goes on on the next line)."""
    records, pending = [], ""
    for line in text.splitlines():
        if not line.strip() and not pending:
            continue
        pending += line
        if len(pending) >= 8 + 2 * int(pending[5:8]):
            records.append(pending)
            pending = ""
    return records


def jhf_glyph(record: str) -> list[list[Point]]:
    """A JHF record's pen strokes as polylines in font units (y down); the left/right pair is skipped."""
    count = int(record[5:8])
    pairs = [record[8 + 2 * k: 10 + 2 * k] for k in range(1, count)]
    strokes, line = [], []
    for pair in pairs:
        if pair == " R":
            strokes.append(line)
            line = []
        else:
            line.append((float(ord(pair[0]) - ord("R")), float(ord(pair[1]) - ord("R"))))
    strokes.append(line)
    return [stroke for stroke in strokes if len(stroke) >= 2]


def at_corners(line: list[Point]) -> list[list[Point]]:
    """A polyline cut into segments where it turns by more than CORNER_DEGREES; neighbours share the corner."""
    segments, start = [], 0
    for k in range(1, len(line) - 1):
        (ax, ay), (bx, by), (cx, cy) = line[k - 1], line[k], line[k + 1]
        turn = math.degrees(abs(math.atan2((bx - ax) * (cy - by) - (by - ay) * (cx - bx),
                                           (bx - ax) * (cx - bx) + (by - ay) * (cy - by))))
        if turn > CORNER_DEGREES:
            segments.append(line[start: k + 1])
            start = k
    segments.append(line[start:])
    return segments


def unit_box(lines: list[list[Point]]) -> list[list[Point]]:
    """Polylines scaled to 1 tall (y down from 0), centred on x = 0.5: the unit box strokes.render bends."""
    xs = [x for line in lines for x, _ in line]
    ys = [y for line in lines for _, y in line]
    height, middle = max(max(ys) - min(ys), 1e-6), (max(xs) + min(xs)) / 2
    return [[(0.5 + (x - middle) / height, (y - min(ys)) / height) for x, y in line] for line in lines]


def hershey_lines(face: str, digit: int) -> list[list[Point]]:
    """A digit's polylines in a Hershey face, in font units (y down)."""
    records = jhf_records((HERSHEY_DIR / f"{face}.jhf").read_text(encoding="latin-1"))
    return jhf_glyph(records[ord(str(digit)) - 32])


@functools.lru_cache(maxsize=None)
def hershey_shapes(face: str, outlined: bool) -> Shapes:
    """The digits of a Hershey face as pen shapes. A single-line face's polylines are its strokes, cut at their
    corners; an ``outlined`` face (duplex, complex, triplex: two or three lines side by side make a thick
    stroke) is drawn with a pen that joins its lines, then thinned and traced as a font is."""
    shapes = {}
    for digit in range(10):
        lines = hershey_lines(face, digit)
        if outlined:
            shapes[str(digit)] = (digit, traced(rasterised(lines)))
        else:
            shapes[str(digit)] = (digit, [at_corners(line) for line in unit_box(lines)])
    return shapes


def rasterised(lines: list[list[Point]], pen: float = 3.0) -> np.ndarray:
    """Polylines in font units drawn GLYPH_HEIGHT px high with a round pen ``pen`` font units wide, as a mask."""
    ys = [y for line in lines for _, y in line]
    xs = [x for line in lines for x, _ in line]
    scale = GLYPH_HEIGHT / max(max(ys) - min(ys), 1e-6)
    margin = pen * scale
    image = Image.new("L", (round((max(xs) - min(xs)) * scale + 2 * margin) + 1, GLYPH_HEIGHT + 2 * round(margin) + 1))
    brush = ImageDraw.Draw(image)
    width = max(1, round(pen * scale))
    for line in lines:
        points = [((x - min(xs)) * scale + margin, (y - min(ys)) * scale + margin) for x, y in line]
        brush.line(points, fill=255, width=width, joint="curve")
        for x, y in points:
            brush.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    return np.asarray(image) > 127


# --- TrueType / OpenType fonts: render, thin, trace ------------------------------------------------------------

def glyph_mask(path: Path, char: str) -> np.ndarray:
    """``char`` in the font at ``path``, its ink about GLYPH_HEIGHT px high, as a boolean mask."""
    def rendered(size: int) -> np.ndarray:
        font = ImageFont.truetype(str(path), size)
        left, top, right, bottom = font.getbbox(char)
        image = Image.new("L", (right - left + 8, bottom - top + 8), 0)
        ImageDraw.Draw(image).text((4 - left, 4 - top), char, font=font, fill=255)
        return np.asarray(image) > 127

    rows = np.nonzero(rendered(160).any(axis=1))[0]
    return rendered(max(8, round(160 * GLYPH_HEIGHT / max(np.ptp(rows) + 1, 1))))


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning: the mask worn down to lines one pixel wide, ends and connections kept."""
    image = np.pad(mask, 1).astype(np.uint8)
    while True:
        changed = False
        for step in (0, 1):
            p = np.pad(image, 1)
            n = [p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:], p[2:, 2:], p[2:, 1:-1], p[2:, :-2], p[1:-1, :-2], p[:-2, :-2]]
            p2, _, p4, _, p6, _, p8, _ = n
            count = sum(n)
            crossings = sum((n[k] == 0) & (n[(k + 1) % 8] == 1) for k in range(8))
            if step == 0:
                side = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                side = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = (image == 1) & (count >= 2) & (count <= 6) & (crossings == 1) & side
            if remove.any():
                image[remove] = 0
                changed = True
        if not changed:
            return image[1:-1, 1:-1].astype(bool)


Pixel = tuple[int, int]
ORTHOGONAL = ((-1, 0), (1, 0), (0, -1), (0, 1))
DIAGONAL = ((-1, -1), (-1, 1), (1, -1), (1, 1))


def skeleton_graph(skeleton: np.ndarray) -> dict[Pixel, list[Pixel]]:
    """Each skeleton pixel's neighbours: the 4 orthogonal ones, and a diagonal one only where no orthogonal pixel
    already joins the two (else a staircase would look like a junction)."""
    pixels = set(zip(*(axis.tolist() for axis in np.nonzero(skeleton))))
    graph = {}
    for r, c in pixels:
        near = [(r + dr, c + dc) for dr, dc in ORTHOGONAL if (r + dr, c + dc) in pixels]
        near += [(r + dr, c + dc) for dr, dc in DIAGONAL
                 if (r + dr, c + dc) in pixels and (r + dr, c) not in pixels and (r, c + dc) not in pixels]
        graph[(r, c)] = near
    return graph


def trace(skeleton: np.ndarray, spur: float) -> list[list[Pixel]]:
    """The skeleton as pixel paths: from each end or junction along the line to the next one, then what is left
    (closed loops) from anywhere round to where it began. A path from a junction to a loose end shorter than
    ``spur`` px is dropped: thinning leaves such spurs at a thick stroke's corners."""
    graph = skeleton_graph(skeleton)
    nodes = {pixel for pixel, near in graph.items() if len(near) != 2}
    walked: set[frozenset] = set()

    def walk(start: Pixel, first: Pixel) -> list[Pixel]:
        path = [start, first]
        walked.add(frozenset((start, first)))
        while path[-1] not in nodes:
            onward = [q for q in graph[path[-1]] if frozenset((path[-1], q)) not in walked]
            if not onward:
                break
            walked.add(frozenset((path[-1], onward[0])))
            path.append(onward[0])
        return path

    paths = []
    for start in sorted(nodes) + sorted(set(graph) - nodes):
        for first in graph[start]:
            if frozenset((start, first)) not in walked:
                paths.append(walk(start, first))
    loose = lambda pixel: len(graph[pixel]) == 1  # noqa: E731
    return [path for path in paths if len(path) >= spur or loose(path[0]) == loose(path[-1])]


def stroke_width(mask: np.ndarray) -> float:
    """A font's mean stroke width in px: 2 x area / perimeter."""
    perimeter = np.count_nonzero(mask & ~ndimage.binary_erosion(mask))
    return 2.0 * np.count_nonzero(mask) / max(perimeter, 1)


def traced(mask: np.ndarray) -> list[Stroke]:
    """A glyph's mask as pen strokes: its skeleton's lines, each one stroke of control points TRACE_STEP px
    apart, in the unit box."""
    paths = trace(thin(mask), spur=stroke_width(mask))
    kept = [[path[k] for k in [*range(0, len(path) - 1, TRACE_STEP), len(path) - 1]] for path in paths]
    return [[line] for line in unit_box([[(float(c), float(r)) for r, c in path] for path in kept])]


@functools.lru_cache(maxsize=None)
def font_shapes(path: Path) -> Shapes:
    """The digits of a font file as pen shapes."""
    return {str(digit): (digit, traced(glyph_mask(path, str(digit)))) for digit in range(10)}


# --- the writers -----------------------------------------------------------------------------------------------

FONTS = Path("/usr/share/fonts")


def own_hand(key: str) -> Hand:
    """A font writer's hand: a slant, tilt, width and size of their own (from a stream keyed on the name), each
    drawing within a little of them, always the page's canvas and pen."""
    rng = np.random.default_rng(zlib.crc32(f"bench.font_writers/hand/{key}".encode()))
    slant, tilt = rng.uniform(-0.08, 0.15), rng.uniform(-4.0, 4.0)
    width, height = rng.uniform(0.9, 1.1), rng.uniform(0.5, 0.75)
    return Hand(slant=(slant - 0.05, slant + 0.05), tilt_degrees=(tilt - 3.0, tilt + 3.0),
                width_scale=(width - 0.07, width + 0.07), height_fraction=(height - 0.12, height + 0.12), **PAGE)


@dataclass(frozen=True)
class Writer:
    """One writer: where their digits' shapes come from, the Debian package that brings them (None for pen
    writers), their hand and the split they belong to."""
    key: str
    split: str
    source: str         # "hershey" (origin: the face), "font" (origin: the file under FONTS) or "pen" (origin: "")
    origin: str
    package: str | None
    hand: Hand
    outlined: bool = False       # a Hershey face of two or three lines side by side
    styles: tuple[str, ...] = ()  # a pen writer's shape of each digit, from bench/pen_digits.py

    @property
    def path(self) -> Path:
        return HERSHEY_DIR / f"{self.origin}.jhf" if self.source == "hershey" else FONTS / self.origin

    def available(self) -> bool:
        return self.source == "pen" or self.path.exists()

    def shapes(self) -> Shapes:
        if self.source == "hershey":
            return hershey_shapes(self.origin, self.outlined)
        if self.source == "font":
            return font_shapes(self.path)
        return {style: SHAPES[style] for style in self.styles}

    def seed(self, purpose: str) -> int:
        """The seed of one set of this writer's drawings ("test", "train-20"...): never one used elsewhere."""
        return zlib.crc32(f"bench.writers/{self.key}/{purpose}".encode())

    def drawings(self, per_digit: int, purpose: str) -> list[PenSample]:
        """``per_digit`` drawings of each digit, 0 to 9 in turn, reproducible from the writer and ``purpose``."""
        return list(self.iter_drawings(per_digit, purpose))

    def iter_drawings(self, per_digit: int, purpose: str) -> Iterator[PenSample]:
        shapes = self.shapes()
        yield from iter_pen_digits(per_digit, self.seed(purpose), sorted(shapes, key=lambda s: shapes[s][0]),
                                   hand=self.hand, shapes=shapes)


def hershey(key: str, split: str, face: str, *, outlined: bool = False) -> Writer:
    return Writer(key, split, "hershey", face, "hershey-fonts-data", own_hand(key), outlined=outlined)


def font(key: str, split: str, file: str, package: str) -> Writer:
    return Writer(key, split, "font", file, package, own_hand(key))


def pen(key: str, split: str, hand: Hand, styles: str) -> Writer:
    """A pen writer; ``styles``: their shape of each digit, 0 to 9, pen_digits' style names less the digit."""
    names = tuple(f"{digit} {name.strip()}" for digit, name in enumerate(styles.split(",")))
    return Writer(key, split, "pen", "", None, hand, styles=names)


# Each list mixes the three sources, in an order where the first few of a split are already mixed (--writers K
# takes the first K). Faces with the same digits as one here (rowmans, cursive, scriptc, timesi...) and fonts
# whose glyphs are hollow or textured (femkeklaver, ecolier-court, cabinsketch, BecauseWeCreate) are left out.
WRITERS: list[Writer] = [
    # report: only for reporting
    hershey("hershey-script", "report", "scripts"),
    font("humor-sans", "report", "truetype/humor-sans/Humor-Sans.ttf", "fonts-humor-sans"),
    pen("pen-backhand", "report", Hand(slant=(-0.32, -0.22), tilt_degrees=(2.0, 6.0), width_scale=(1.05, 1.2),
                                       height_fraction=(0.45, 0.65), **PAGE),
        "round, flag and base, angular, pointy middle, y-like, one stroke, small loop, hooked, S and line, hooked"),
    font("delphine", "report", "truetype/sjfonts/Delphine.ttf", "fonts-sjfonts"),
    font("dancing-script", "report", "opentype/dancingscript/DancingScript-Regular.otf", "fonts-dancingscript"),
    hershey("hershey-complex", "report", "timesr", outlined=True),
    font("kristi", "report", "truetype/kristi/Kristi.ttf", "fonts-kristi"),
    font("because-we-build", "report", "opentype/bwht/BecauseWeBuild-Regular.otf", "fonts-bwht"),
    pen("pen-narrow", "report", Hand(slant=(0.48, 0.6), tilt_degrees=(-1.0, 3.0), width_scale=(0.6, 0.72),
                                     height_fraction=(0.7, 0.92), **PAGE),
        "overlapping, stroke, curly start, round, bar crossing, detached flag, long stem, crossed, small top, "
        "open loop"),
    font("comic-neue-italic", "report", "opentype/comic-neue/ComicNeue-Italic.otf", "fonts-comic-neue"),
    font("dkg-italic", "report", "truetype/fifthhorseman/dkgIt.ttf", "fonts-dkg-handwriting"),
    hershey("hershey-duplex", "report", "futuram", outlined=True),
    font("andika", "report", "truetype/andika/Andika-Regular.ttf", "fonts-sil-andika"),
    font("because-we-learn", "report", "opentype/bwht/BecauseWeLearn-Regular.otf", "fonts-bwht"),
    font("kaushan-script", "report", "opentype/kaushanscript/KaushanScript-Regular.otf", "fonts-kaushanscript"),
    font("because-we-organize", "report", "opentype/bwht/BecauseWeOrganize-Regular.otf", "fonts-bwht"),
    # tune: for choosing hyperparameters on
    hershey("hershey-simplex", "tune", "futural"),
    font("steve-hand", "tune", "truetype/sjfonts/SteveHand.ttf", "fonts-sjfonts"),
    pen("pen-small-tilted", "tune", Hand(slant=(0.0, 0.1), tilt_degrees=(-11.0, -7.0), width_scale=(0.9, 1.05),
                                         height_fraction=(0.28, 0.4), **PAGE),
        "open, long base, plain, flat top, one stroke, two strokes, open loop, curved stem, one stroke, small loop"),
    font("breip", "tune", "truetype/breip/Breip.ttf", "fonts-breip"),
    font("comic-neue", "tune", "opentype/comic-neue/ComicNeue-Regular.otf", "fonts-comic-neue"),
    hershey("hershey-triplex-italic", "tune", "timesib", outlined=True),
    font("rufscript", "tune", "truetype/rufscript/Rufscript010.ttf", "fonts-rufscript"),
    font("because-we-connect", "tune", "opentype/bwht/BecauseWeConnect-Regular.otf", "fonts-bwht"),
    pen("pen-wide", "tune", Hand(slant=(-0.06, 0.04), tilt_degrees=(-2.0, 2.0), width_scale=(1.3, 1.5),
                                 height_fraction=(0.5, 0.7), **PAGE),
        "oval, flag, looped, round, open, sloped flag, curved, short bar, one stroke, curved stem"),
    font("klee-one", "tune", "truetype/klee/KleeOne-Regular.ttf", "fonts-klee"),
    font("dkg", "tune", "truetype/fifthhorseman/dkg.ttf", "fonts-dkg-handwriting"),
    hershey("hershey-gothic", "tune", "gothgbt", outlined=True),
    font("andika-italic", "tune", "truetype/andika/Andika-Italic.ttf", "fonts-sil-andika"),
    font("because-we-mentor", "tune", "opentype/bwht/BecauseWeMentor-Regular.otf", "fonts-bwht"),
    font("seto", "tune", "truetype/seto/setofont.ttf", "fonts-seto"),
    font("opendyslexic", "tune", "opentype/opendyslexic/OpenDyslexic-Regular.otf", "fonts-opendyslexic"),
]


def writers_of(split: str) -> list[Writer]:
    return [writer for writer in WRITERS if writer.split == split]


def packages(writers: list[Writer]) -> list[str]:
    """The Debian packages these writers need, sorted."""
    return sorted({writer.package for writer in writers if writer.package})
