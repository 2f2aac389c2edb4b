"""What reading one image costs the site at its worst, by format: CPU time to decode and preprocess it (issue 25).

    .venv/bin/python -m bench.decode_cost [--repeats 5] [--only "png,jpeg scans"]

For each accepted format (PNG, JPEG, GIF, WebP, BMP) this builds, in memory, the images that cost most to read
at the site's default limits: MAX_IMAGE_PIXELS (4096x4096) and MAX_UPLOAD_BYTES (5 MiB; a larger body gets a 413
before a byte is read, so a kind whose bytes cannot hold 4096x4096 is built as large as they allow). Each shows
a 7 drawn across the image, so the preprocessing runs in full. Beside plain images at each bit depth and mode,
the files that make a decoder loop per piece rather than per pixel: PNGs and GIFs cut into tiny chunks or
blocks, JPEGs with floods of markers, stray bytes or scans, run-length BMPs (which Pillow decodes pixel by pixel
in Python), a GIF of many frames (only the first may be decoded). Where the site refuses a kind at 4096x4096
(recognizer/ml/decode_budget.py), the kind is measured again at the most the site accepts ("most accepted"):
the worst an accepted image of that kind costs.

Measured: CPU time (time.process_time; everything runs on this one thread) of ``prepare_digit`` (decode_image,
ink_map, to_mnist: what /api/predict does with an image), ``--repeats`` times, its max and median, and
decode_image's median alone; and the site's answer: accepted, refused (400, with its message) or 413. A kind
that takes over 2 s is measured once. Target: every kind's max <= 100 ms. Prints a table and PASS/FAIL, writes
bench/results/decode_cost.json. CPU time moves less than wall time when a neighbour is busy, but it moves
(shared caches, clock speed): read the load average recorded with it.
"""

import argparse
import dataclasses
import datetime
import io
import math
import statistics
import struct
import time
import zlib
from collections.abc import Callable
from functools import partial

import numpy as np
from PIL import Image, ImageDraw

from bench.accuracy import MAX_PIXELS
from bench.harness.results import RESULTS, code_state, machine_info, pass_fail, write_result
from recognizer.ml.decode_budget import LIMITS, structure_refusal
from recognizer.ml.preprocessing import InvalidImage, decode_image, prepare_digit

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # the site's default: a larger body gets a 413, unread
UPLOAD_ROOM = MAX_UPLOAD_BYTES - 1024  # what a multipart body leaves for the file
SIDE = 4096  # MAX_PIXELS = SIDE x SIDE
TARGET_MS = 100.0
MEASURE_ONCE_MS = 2000.0

Build = Callable[[], bytes]


# --- drawings -----------------------------------------------------------------------------------------------

def drawing(side: int, mode: str = "L", *, noise: float = 0.0) -> Image.Image:
    """A 7 drawn across a ``side`` px square: black on white, or for RGBA and LA on a transparent background as a
    canvas posts it. ``noise`` adds that much uniform noise (0 to 1 of full scale) to every colour."""
    transparent = mode in {"RGBA", "LA"}
    image = Image.new("LA" if transparent else "L", (side, side), (0, 0) if transparent else 255)
    s = side / 280
    ImageDraw.Draw(image).line([(70 * s, 42 * s), (210 * s, 42 * s), (119 * s, 238 * s)],
                               fill=(0, 255) if transparent else 0, width=max(1, round(18 * s)))
    if noise:
        pixels = np.asarray(image.convert("RGBA" if transparent else "RGB"), dtype=np.int16)
        shifts = np.random.default_rng(0).integers(-128, 128, pixels[..., :3].shape) * noise
        pixels[..., :3] += shifts.astype(np.int16)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return image.convert(mode)


def inked_palette(side: int) -> Image.Image:
    """The drawing as palette indices: 0 (white, transparent where the format says so) and 1 (black ink)."""
    image = Image.fromarray(np.asarray(drawing(side, "LA"))[..., 1] // 255, mode="L").convert("P")
    image.putpalette(b"\xff\xff\xff\x00\x00\x00")
    return image


def saved(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def first_fitting(candidates, limit: int = UPLOAD_ROOM) -> bytes:
    """The first of the ``candidates`` (an iterable of thunks, most costly first) whose bytes fit ``limit``;
    a thunk may raise ValueError (an encoder's refusal) to be passed over."""
    for build in candidates:
        try:
            data = build()
        except ValueError:
            continue
        if len(data) <= limit:
            return data
    raise ValueError("nothing fits")


def most_accepted(build: Callable[[int], bytes], most: int) -> bytes:
    """``build(count)`` for the largest count up to ``most`` whose structure the site accepts (decode_budget's
    piece and scan limits), found by bisection."""
    low, high = 0, most
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if structure_refusal(build(middle)) is None else (low, middle - 1)
    return build(low)


# --- PNG, written by hand: Pillow writes neither interlaced nor Paeth-only PNGs ------------------------------

def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def paeth_rows(rows: np.ndarray, bpp: int) -> bytes:
    """(height, stride) uint8 scanlines, each Paeth-filtered (filter type 4, the costliest to undo), in bands so a
    4096x4096 16-bit RGBA image does not take gigabytes."""
    out = []
    above = np.zeros(rows.shape[1], np.int16)
    for start in range(0, rows.shape[0], 256):
        band = rows[start:start + 256].astype(np.int16)
        b = np.vstack([above, band[:-1]])
        a, c = np.zeros_like(band), np.zeros_like(band)
        a[:, bpp:], c[:, bpp:] = band[:, :-bpp], b[:, :-bpp]
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        predicted = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        filtered = ((band - predicted) % 256).astype(np.uint8)
        out.append(np.hstack([np.full((len(band), 1), 4, np.uint8), filtered]).tobytes())
        above = band[-1]
    return b"".join(out)


ADAM7 = [(0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1)]
COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type: grey, grey + alpha, RGB, RGBA


def png(pixels: np.ndarray, *, interlaced: bool = False, palette: bytes = b"", transparent: bytes = b"",
        before: bytes = b"", idat_size: int | None = None) -> bytes:
    """A PNG of (height, width[, channels]) uint8 or uint16 ``pixels`` (with a ``palette``: indices), 8 or 16 bits
    a sample, Paeth-filtered, optionally Adam7-interlaced; ``before`` goes before the image data, which is cut
    into IDAT chunks of ``idat_size`` bytes."""
    pixels = pixels if pixels.ndim == 3 else pixels[..., None]
    height, width, channels = pixels.shape
    depth = 16 if pixels.dtype == np.uint16 else 8
    raw = b""
    for top, left, down, across in ADAM7 if interlaced else [(0, 0, 1, 1)]:
        part = np.ascontiguousarray(pixels[top::down, left::across]).astype(">u2" if depth == 16 else np.uint8)
        if part.size:
            raw += paeth_rows(part.view(np.uint8).reshape(part.shape[0], -1), channels * depth // 8)
    data = zlib.compress(raw, 6)
    kind = 3 if palette else COLOUR_TYPES[channels]
    head = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, kind, 0, 0, int(interlaced)))
    if palette:
        head += png_chunk(b"PLTE", palette) + (png_chunk(b"tRNS", transparent) if transparent else b"")
    step = idat_size or len(data)
    idat = b"".join(png_chunk(b"IDAT", data[i:i + step]) for i in range(0, len(data), step))
    return b"\x89PNG\r\n\x1a\n" + head + before + idat + png_chunk(b"IEND", b"")


def grey16(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.uint16) * 257


def png_one_bit(side: int) -> bytes:
    return saved(drawing(side, "1"), "PNG")


GREY_PALETTE = b"\xff\xff\xff" + bytes(765)  # index 0 white, the rest black

FULL_SIZE_PNG = {  # name -> (build at a side, decoded bytes a pixel as decode_budget counts them)
    "png 8-bit grey": (lambda side: png(np.asarray(drawing(side))), 1),
    "png 8-bit RGB": (lambda side: png(np.asarray(drawing(side, "RGB"))), 3),
    "png 8-bit RGBA": (lambda side: png(np.asarray(drawing(side, "RGBA"))), 4),
    "png 8-bit RGBA interlaced": (lambda side: png(np.asarray(drawing(side, "RGBA")), interlaced=True), 4),
    "png 16-bit grey": (lambda side: png(grey16(drawing(side))), 2),
    "png 16-bit RGBA": (lambda side: png(grey16(drawing(side, "RGBA"))), 8),
    "png 16-bit RGBA interlaced": (lambda side: png(grey16(drawing(side, "RGBA")), interlaced=True), 8),
    "png palette": (lambda side: png(np.asarray(inked_palette(side)), palette=GREY_PALETTE), 3),
    "png palette + transparency": (lambda side: png(np.asarray(inked_palette(side)), palette=GREY_PALETTE,
                                                    transparent=b"\x00"), 4),
    "png 1-bit": (png_one_bit, 1 / 8),
}
NOISE_LEVELS = (0.5, 0.2, 0.1, 0.05, 0.02, 0.01)


def png_noisy(side: int, limit: int = UPLOAD_ROOM) -> bytes:
    """RGBA with as much noise as fits ``limit``: the most for zlib to inflate."""
    return first_fitting((lambda level=level: png(np.asarray(drawing(side, "RGBA", noise=level)))
                          for level in NOISE_LEVELS), limit)


def png_piece_cases() -> dict[str, Build]:
    small = np.asarray(drawing(280))

    def empty_chunks(count: int) -> bytes:
        return png(small, before=png_chunk(b"teXt", b"") * count)

    bomb = png_chunk(b"zTXt", b"comment\x00\x00" + zlib.compress(b" " * ((1 << 20) - 1), 9))  # 1 MB: Pillow's most

    def text_bombs(count: int) -> bytes:
        return png(small, before=bomb * count)

    noise = np.random.default_rng(0).integers(0, 256, (256, 256), dtype=np.uint8)
    return {"png 8-bit RGBA, noisy": partial(png_noisy, math.isqrt(LIMITS.full_size_bytes // 4)),
            "png 8-bit RGBA, noisy, most accepted": partial(png_noisy, math.isqrt(LIMITS.full_size_bytes // 4),
                                                            LIMITS.png_bytes),
            "png 280 px + 2 MB of empty chunks": partial(empty_chunks, LIMITS.png_bytes // 12 - 200),
            "png 280 px + empty chunks, most accepted": lambda: most_accepted(empty_chunks, LIMITS.pieces),
            "png 1-byte IDAT chunks": lambda: png(noise, idat_size=1),
            "png 280 px + 64 zTXt of 1 MB": partial(text_bombs, 64),
            "png 280 px + zTXt of 1 MB, most accepted": lambda: most_accepted(text_bombs, 64)}


# --- GIF ----------------------------------------------------------------------------------------------------

def gif_parts(image: Image.Image, **params) -> tuple[bytes, bytes]:
    """A one-frame GIF from Pillow, as (header with its colour table, the frame's blocks); the trailer dropped."""
    data = saved(image, "GIF", **params)
    colour_table = 3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0
    return data[:13 + colour_table], data[13 + colour_table:-1]


def gif_transparent(side: int) -> bytes:
    return b"".join(gif_parts(inked_palette(side), transparency=0)) + b";"


def gif_many_frames(side: int) -> bytes:
    """As many copies of the first frame as the upload holds: only the first may be decoded."""
    head, frame = gif_parts(inked_palette(side), transparency=0)
    return head + frame * ((UPLOAD_ROOM - len(head)) // len(frame)) + b";"


def gif_noisy(side: int) -> bytes:
    """256 colours at random: the most LZW codes for the pixels."""
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side), dtype=np.uint8), mode="L")
    return saved(image.convert("P"), "GIF")


FULL_SIZE_GIF = {"gif, transparent": (gif_transparent, 4), "gif many frames": (gif_many_frames, 4),
                 "gif noise, 256 colours": (gif_noisy, 3)}


def gif_piece_cases() -> dict[str, Build]:
    head, frame = gif_parts(drawing(280, "P"))

    def comment_blocks(count: int) -> bytes:
        return head + b"!\xfe" + b"\x01." * count + b"\x00" + frame + b";"

    return {"gif 280 px + 5 MB of 1-byte comment blocks": partial(comment_blocks, UPLOAD_ROOM // 2 - 1000),
            "gif 280 px + comment blocks, most accepted": lambda: most_accepted(comment_blocks, LIMITS.pieces)}


# --- WebP ---------------------------------------------------------------------------------------------------

def webp_lossy(mode: str, side: int, limit: int = UPLOAD_ROOM) -> bytes:
    """Noisy, at the best quality that fits ``limit`` (libwebp refuses some: its first partition overflows)."""
    image = drawing(side, mode, noise=0.6)
    return first_fitting((partial(saved, image, "WEBP", quality=quality, method=0)
                          for quality in (100, 90, 75, 50, 25, 10)), limit)


def webp_lossless(side: int, limit: int = UPLOAD_ROOM) -> bytes:
    """RGBA with as much noise as fits ``limit``."""
    return first_fitting((lambda level=level: saved(drawing(side, "RGBA", noise=level), "WEBP", lossless=True,
                                                    quality=0, method=0) for level in NOISE_LEVELS), limit)


def webp_cases() -> dict[str, Build]:
    """At 4096 px as large as an upload holds; at the most pixels accepted, as large as the site takes."""
    cases = {}
    most = math.isqrt(LIMITS.full_size_bytes // 4)  # libwebp decodes to 4 bytes a pixel
    for name, build in (("webp lossy, noisy", partial(webp_lossy, "RGB")),
                        ("webp lossy with alpha, noisy", partial(webp_lossy, "RGBA")),
                        ("webp lossless RGBA, noisy", webp_lossless)):
        cases[name] = partial(build, SIDE)
        cases[f"{name}, {most} px, most accepted"] = partial(build, most, LIMITS.webp_bytes)
    return cases


# --- JPEG ---------------------------------------------------------------------------------------------------

def jpeg_noisy(side: int = SIDE, limit: int = UPLOAD_ROOM, **params) -> bytes:
    """A noisy JPEG, 4:4:4, at the best quality that fits ``limit``: the most entropy-coded data."""
    image = drawing(side, "RGB", noise=0.5)
    return first_fitting((partial(saved, image, "JPEG", quality=quality, subsampling=0, **params)
                          for quality in (95, 80, 60, 40, 20, 10)), limit)


class BitWriter:
    """Entropy-coded bits, a 0 byte stuffed after each 0xFF as JPEG requires."""

    def __init__(self) -> None:
        self.bits = ""

    def put(self, value: int, length: int) -> None:
        self.bits += format(value, f"0{length}b") if length else ""

    def done(self) -> bytes:
        padded = self.bits + "1" * (-len(self.bits) % 8)
        return int(padded, 2).to_bytes(len(padded) // 8, "big").replace(b"\xff", b"\xff\x00") if padded else b""


def eob_run_scan(blocks: int) -> tuple[bytes, bytes]:
    """AC table 3, and an AC scan of component 1 (bands 1-63) that says 'no more coefficients' for all ``blocks``
    blocks in a few bytes: EOB runs of 32767 blocks (symbol EOB14, code '0') and one of the rest (code '10')."""
    full, rest = divmod(blocks, 32767)
    extra = max(rest.bit_length() - 1, 0)  # the rest's symbol is EOBn, n = its bit length less one
    table = (b"\xff\xc4" + struct.pack(">HB", 2 + 1 + 16 + 2, 0x13) + bytes([1, 1] + [0] * 14)
             + bytes([0xE0, extra << 4]))
    bits = BitWriter()
    for _ in range(full):
        bits.put(0, 1)
        bits.put(32767 - 16384, 14)
    if rest:
        bits.put(0b10, 2)
        bits.put(rest - (1 << extra), extra)
    return table, b"\xff\xda" + struct.pack(">HBBBBBB", 8, 1, 1, 0x03, 1, 63, 0) + bits.done()


def jpeg_with_scans(count: int, side: int = SIDE) -> bytes:
    """A progressive JPEG with ``count`` more AC scans of a few bytes each before its end: every scan makes
    libjpeg walk all the blocks of the component again (262,144 at 4096 px)."""
    data = saved(drawing(side, "RGB"), "JPEG", quality=75, progressive=True, subsampling=0)
    table, scan = eob_run_scan(math.ceil(side / 8) ** 2)
    return data[:-2] + table + scan * count + b"\xff\xd9"


def jpeg_case_builders() -> dict[str, Build]:
    small = saved(drawing(280, "RGB"), "JPEG", quality=90)
    scanned = math.isqrt(LIMITS.scanned_pixels)  # the largest progressive JPEG accepted

    def comments(count: int) -> bytes:
        return small[:2] + b"\xff\xfe\x00\x02" * count + small[2:]

    def stray_bytes(count: int) -> bytes:  # after the first segment (APP0), which Pillow needs to see a JPEG
        after_app0 = 4 + int.from_bytes(small[4:6], "big")
        return small[:after_app0] + b"\x00" * count + small[after_app0:]

    def big_exif() -> bytes:
        exif = Image.Exif()
        exif[0x0112] = 6  # turned: ImageOps.exif_transpose would read and rewrite every tag
        for tag in range(0x9000, 0x9000 + 5000):
            exif[tag] = 1
        return saved(drawing(SIDE, "RGB"), "JPEG", quality=75, exif=exif.tobytes())

    return {"jpeg baseline, noisy 4:4:4": jpeg_noisy,
            "jpeg progressive, noisy 4:4:4": partial(jpeg_noisy, progressive=True),
            "jpeg progressive, noisy 4:4:4, most accepted": partial(jpeg_noisy, scanned, LIMITS.scanned_bytes,
                                                                    progressive=True),
            "jpeg progressive": partial(jpeg_with_scans, 0),
            "jpeg progressive, most accepted": partial(jpeg_with_scans, 0, scanned),
            "jpeg progressive + 2,000 empty scans": partial(jpeg_with_scans, 2000),
            "jpeg progressive + empty scans, most accepted": lambda: most_accepted(
                partial(jpeg_with_scans, side=scanned), 2000),
            "jpeg 280 px + 5 MB of comment markers": partial(comments, (UPLOAD_ROOM - len(small)) // 4),
            "jpeg 280 px + comment markers, most accepted": lambda: most_accepted(comments, LIMITS.pieces),
            "jpeg 280 px + 5 MB of stray bytes": partial(stray_bytes, UPLOAD_ROOM - len(small)),
            "jpeg 280 px + stray bytes, most accepted": lambda: most_accepted(stray_bytes, LIMITS.pieces),
            "jpeg turned, 64 KB of EXIF": big_exif}


# --- BMP ----------------------------------------------------------------------------------------------------

def bmp(width: int, height: int, bits: int, compression: int, pixels: bytes, palette: bytes = b"",
        masks: bytes = b"") -> bytes:
    """A BMP with a BITMAPINFOHEADER: ``compression`` 0 none, 1 RLE8, 2 RLE4, 3 bitfields (``masks`` follow)."""
    offset = 14 + 40 + len(masks) + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, compression, len(pixels), 2835, 2835,
                       len(palette) // 4, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + masks + palette + pixels


def rle_bmp(indices: np.ndarray, bits: int) -> bytes:
    """Palette ``indices`` (0 white, others black) run-length encoded as an RLE8 or RLE4 BMP, 2 bytes a run of up
    to 255 pixels: Pillow expands every pixel of every run in Python. Cut short where an upload is full."""
    codes = bytearray()
    for row in indices[::-1]:  # bottom-up
        starts = np.flatnonzero(np.diff(row, prepend=-1))
        for start, end in zip(starts, [*starts[1:], len(row)], strict=True):
            for piece in range(start, end, 255):
                value = int(row[start]) * (17 if bits == 4 else 1)  # RLE4: both pixels of the pair alike
                codes += bytes([min(255, end - piece), value])
        codes += b"\0\0"  # end of line
        if len(codes) > UPLOAD_ROOM - 2000:
            break
    palette = b"\xff\xff\xff\x00" + b"\x00\x00\x00\x00" * ((1 << bits) - 1)
    height, width = indices.shape
    return bmp(width, height, bits, 2 if bits == 4 else 1, bytes(codes) + b"\0\1", palette)


def drawn_indices(side: int = SIDE) -> np.ndarray:
    return np.asarray(inked_palette(side))


def bitfields_bmp(side: int) -> bytes:
    """16-bit 5-6-5 bitfields: the most pixels a byte of bitfields can hold."""
    grey = np.asarray(drawing(side), dtype=np.uint16)
    value = ((grey >> 3) << 11) | ((grey >> 2) << 5) | (grey >> 3)
    rows = np.pad(value[::-1].astype("<u2").view(np.uint8), ((0, 0), (0, -2 * side % 4)))
    return bmp(side, side, 16, 3, rows.tobytes(), masks=struct.pack("<III", 0xF800, 0x07E0, 0x001F))


def colour_palette_bmp(side: int) -> bytes:
    """8-bit indices into a palette that is not all greys (so Pillow loads it as P, not L)."""
    image = inked_palette(side)
    image.putpalette(b"\xff\xff\xff\x00\x00\x00\xff\x00\x00")
    return saved(image, "BMP")


def largest_fitting(build: Callable[[int], bytes]) -> bytes:
    """``build(side)`` for the largest side (in steps of 64) whose bytes fit an upload."""
    return first_fitting(partial(build, side) for side in range(SIDE, 255, -64))


def bmp_case_builders() -> dict[str, Build]:
    return {"bmp 1-bit": lambda: saved(drawing(SIDE, "1"), "BMP"),
            "bmp 8-bit grey palette, largest that fits": lambda: largest_fitting(lambda s: saved(drawing(s, "P"),
                                                                                                 "BMP")),
            "bmp 24-bit, largest that fits": lambda: largest_fitting(lambda s: saved(drawing(s, "RGB"), "BMP")),
            "bmp 16-bit bitfields, largest that fits": lambda: largest_fitting(bitfields_bmp),
            "bmp RLE8, a drawing": lambda: rle_bmp(drawn_indices(), 8),
            "bmp RLE8, 2-pixel runs": lambda: rle_bmp(np.tile(np.repeat(np.arange(2, dtype=np.uint8), 2),
                                                             (SIDE, SIDE // 4)), 8),
            "bmp RLE4, a drawing": lambda: rle_bmp(drawn_indices(), 4),
            "bmp 8-bit colour palette, largest that fits": lambda: largest_fitting(colour_palette_bmp)}


def full_size_cases(kinds: dict) -> dict[str, Build]:
    """Each kind decoded at full size, at 4096 px and, where the site refuses that, at the most it accepts."""
    cases = {}
    for name, (build, per_pixel) in kinds.items():
        cases[name] = partial(build, SIDE)
        most = math.isqrt(int(LIMITS.full_size_bytes / per_pixel))
        if most < SIDE:
            cases[f"{name}, {most} px, most accepted"] = partial(build, most)
    return cases


CASES = {**full_size_cases(FULL_SIZE_PNG), **png_piece_cases(), **full_size_cases(FULL_SIZE_GIF),
         **gif_piece_cases(), **webp_cases(), **jpeg_case_builders(), **bmp_case_builders()}


# --- measuring ----------------------------------------------------------------------------------------------

def cpu_ms(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return (time.process_time() - start) * 1000


def answer(data: bytes) -> str:
    """What the site answers to this image: accepted, 413, or 400 with its message."""
    if len(data) > MAX_UPLOAD_BYTES:
        return "413: over MAX_UPLOAD_BYTES"
    try:
        prepare_digit(data, max_pixels=MAX_PIXELS)
    except InvalidImage as refusal:
        return f"400: {refusal}"
    return "accepted"


def quietly(work: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            work()
        except InvalidImage:
            pass
    return run


def size_of(data: bytes) -> str:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return f"{image.width}x{image.height}"
    except Exception:  # a file Pillow cannot even open
        return "?"


def measure(name: str, data: bytes, repeats: int) -> dict:
    """The case's size, the site's answer and its CPU cost."""
    outcome = answer(data)
    full = quietly(lambda: prepare_digit(data, max_pixels=MAX_PIXELS))
    timings = [cpu_ms(full)]
    while len(timings) < repeats and timings[0] < MEASURE_ONCE_MS:
        timings.append(cpu_ms(full))
    decode = [cpu_ms(quietly(lambda: decode_image(data, max_pixels=MAX_PIXELS))) for _ in timings]
    return {"case": name, "format": name.split()[0].rstrip(","), "size": size_of(data), "bytes": len(data),
            "answer": outcome, "max_ms": max(timings), "median_ms": statistics.median(timings),
            "decode_median_ms": statistics.median(decode), "repeats": len(timings)}


def print_row(row: dict) -> None:
    print(f"{row['case']:<50}{row['size']:>10}{row['bytes'] / 1000:>7.0f}{row['max_ms']:>8.0f}"
          f"{row['median_ms']:>8.0f}{row['decode_median_ms']:>8.0f}  {row['answer'][:90]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated words: run the cases whose name holds one")
    args = parser.parse_args()
    words = [word.strip() for word in args.only.split(",") if word.strip()]
    print(f"{'case':<50}{'pixels':>10}{'KB':>7}{'max ms':>8}{'median':>8}{'decode':>8}  answer")
    rows = []
    for name, build in CASES.items():
        if not words or any(word in name for word in words):
            rows.append(measure(name, build(), args.repeats))
            print_row(rows[-1])
    worst: dict[str, float] = {}
    for row in rows:
        worst[row["format"]] = max(worst.get(row["format"], 0.0), row["max_ms"])
    print("worst per format (max ms): " + ", ".join(f"{fmt} {ms:.0f}" for fmt, ms in worst.items()))
    passed = all(ms <= TARGET_MS for ms in worst.values())
    print(f"target: every kind's max <= {TARGET_MS:.0f} ms of CPU: {pass_fail(passed)}")
    write_result(RESULTS, "decode_cost.json", {
        "rows": rows, "worst_ms_by_format": worst, "target_ms": TARGET_MS, "passed": passed,
        "max_pixels": MAX_PIXELS, "max_upload_bytes": MAX_UPLOAD_BYTES, "limits": dataclasses.asdict(LIMITS),
        "repeats": args.repeats, "machine": machine_info(libraries=True), "code": code_state(),
        "timestamp": datetime.datetime.now().isoformat(timespec="seconds")})


if __name__ == "__main__":
    main()
