"""What reading one posted image may cost: about 100 ms of CPU at most, on the site's 2-core machine (issue 25).

Pillow decodes pixels in C, at a cost per pixel, but an attacker can make it loop in Python, or loop in C over
the same pixels again and again:

- run-length BMPs (RLE4, RLE8) are expanded pixel by pixel in Python: 0.8 s for 4096x4096 in 148 KB;
- a file's pieces are read one by one in Python: a PNG's chunks, a GIF's blocks before its first frame, a
  JPEG's markers before its first scan, and the stray bytes between them (5 MB of empty PNG chunks: 1.1 s);
- a JPEG of several scans is decoded into a buffer of all its coefficients and libjpeg walks every block of a
  component once per scan, even a scan of a few bytes: 1.3 ms a scan at 4096x4096, and 5 MB holds 100,000;
- everything but a JPEG (decoded at 1/2, 1/4 or 1/8 scale) is decoded at full size: 4096x4096 RGBA took
  0.4-0.7 s to decode and preprocess.

So before a pixel is decoded, ``structure_refusal`` walks the file's pieces (at C speed where it can) and
``size_refusal`` reads the opened image's header; each returns what to tell the person, or None. What the worst
image of each kind costs, refused and accepted: ``python -m bench.decode_cost`` (the README's "What reading an
image costs").
"""

import math
import re
import struct
from dataclasses import dataclass

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GIF_SIGNATURES = (b"GIF87a", b"GIF89a")
JPEG_SIGNATURE = b"\xff\xd8"


@dataclass(frozen=True)
class DecodeLimits:
    """Each limit with its reason; costs measured by bench/decode_cost.py on the site's machine."""
    pieces: int = 4096  # PNG chunks, GIF blocks before the first frame, JPEG markers (and stray bytes before its
    # first scan): Pillow spends 2-3 us on each in Python. libpng writes 8 KB image chunks (640 in a 5 MB file).
    compressed_texts: int = 8  # PNG zTXt, iTXt and iCCP chunks: Pillow inflates each, up to 1 MB apiece
    # A JPEG of several scans (progressive, mostly) is decoded into a buffer of the whole image's coefficients:
    # ~150 ns a block whatever the scale (120 ms at 4096x4096 4:4:4), then ~35 ms a MB of its bits and ~5 ns a
    # block a scan. One scan (baseline) is decoded as it streams in: ~17 ms a MB, 88 ms at most in 5 MB.
    scanned_pixels: int = 2048 * 2048
    scanned_bytes: int = 1_000_000
    block_scans: int = 4_000_000  # 8x8 blocks summed over the scans: libjpeg's own progression walks each 4-6 times
    # PNG, GIF and WebP are decoded at full size: decoding and preprocessing cost ~5.5 ns a byte of decoded samples
    # (50 ms at 9 MB: 1500x1500 RGBA, 1060x1060 16-bit RGBA), plus, for a file of noise, ~10 ms a MB of a PNG
    # and ~26 ms a MB of a lossy WebP.
    full_size_bytes: int = 9_000_000
    png_bytes: int = 2_000_000
    webp_bytes: int = 1_000_000


LIMITS = DecodeLimits()


def structure_refusal(data: bytes, limits: DecodeLimits = LIMITS) -> str | None:
    """Why the file's structure would cost too much to read, or None: walked from its bytes, before Pillow
    parses it. A WebP (parsed in C) is only measured; a BMP (a fixed header) passes."""
    if data.startswith(PNG_SIGNATURE):
        return _png_refusal(data, limits)
    if data.startswith(GIF_SIGNATURES):
        return _gif_refusal(data, limits)
    if data.startswith(JPEG_SIGNATURE):
        return _jpeg_refusal(data, limits)
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP" and len(data) > limits.webp_bytes:
        return _too_large_a_file("WebP", len(data), limits.webp_bytes)
    return None


def _too_large_a_file(kind: str, size: int, most: int) -> str:
    return (f"This {kind} file is {size / 1e6:.1f} MB; the site reads {kind} files of up to {most / 1e6:g} MB. "
            "Save it smaller, or as JPEG.")


def _too_many_pieces(kind: str, limits: DecodeLimits) -> str:
    return (f"This {kind} file is cut into more than {limits.pieces:,} pieces. No drawing needs that many, and "
            "reading them costs the site too much: open it in an image editor and save it again.")


def _png_refusal(data: bytes, limits: DecodeLimits) -> str | None:
    if len(data) > limits.png_bytes:
        return _too_large_a_file("PNG", len(data), limits.png_bytes)
    position, pieces, texts = len(PNG_SIGNATURE), 0, 0
    while position + 8 <= len(data):
        pieces += 1
        if pieces > limits.pieces:
            return _too_many_pieces("PNG", limits)
        length, kind = struct.unpack_from(">I4s", data, position)
        if kind in (b"zTXt", b"iTXt", b"iCCP"):
            texts += 1
            if texts > limits.compressed_texts:
                return (f"This PNG carries more than {limits.compressed_texts} compressed text or colour-profile "
                        "chunks, which cost the site too much to unpack: save it again without its metadata.")
        if kind == b"IEND":
            break
        position += 12 + length
    return None


def _gif_refusal(data: bytes, limits: DecodeLimits) -> str | None:
    """Pillow reads everything before the first frame in Python: extensions sub-block by sub-block, stray bytes
    one at a time. The frame itself is decoded in C, and no later frame is decoded."""
    if len(data) < 13:
        return None
    position = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)  # after the global colour table
    pieces = 0
    while position < len(data) and data[position] not in b",;":  # the first frame, or the end
        pieces += 1
        if data[position] == 0x21:  # an extension: introducer, label, then sub-blocks up to an empty one
            position += 2
            while position < len(data) and data[position] and pieces <= limits.pieces:
                position += data[position] + 1
                pieces += 1
        position += 1
        if pieces > limits.pieces:
            return _too_many_pieces("GIF", limits)
    return None


# The next marker: skips entropy-coded data, its stuffed 0xFF 0x00 and its restarts. Spelt so that re searches
# for the literal 0xFF at C speed (1.4 ms in 5 MB; "\xff+" makes it try every byte: 35 ms).
MARKER = re.compile(rb"\xff\xff*([^\x00\xd0-\xd7\xff])")
STANDALONE = {0x01, 0xD8}  # markers without a length (TEM, SOI); EOI ends the walk
SOF_READ = {0xC0, 0xC1, 0xC2}  # baseline, extended sequential, progressive (all Huffman-coded)
SOF_REFUSED = {0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}  # lossless, hierarchical, arithmetic
SOS = 0xDA


def _jpeg_refusal(data: bytes, limits: DecodeLimits) -> str | None:
    """Walks the first image's markers (an MPO's others are never decoded), jumping over segments by their length
    and over entropy-coded data with a regular expression."""
    position, pieces, scans, block_scans = len(JPEG_SIGNATURE), 0, 0, 0
    size, blocks = (0, 0), {}  # width and height; each component's 8x8 blocks, by component id
    while found := MARKER.search(data, position):
        if not scans:  # stray and fill bytes before the first scan: Pillow steps over each in Python
            pieces += found.end() - 2 - position
        pieces += 1
        if pieces > limits.pieces:
            return _too_many_pieces("JPEG", limits)
        marker, position = found.group(1)[0], found.end()
        if marker == 0xD9:  # end of image
            break
        if marker in STANDALONE or position + 2 > len(data):
            continue
        if marker in SOF_REFUSED:
            return ("This JPEG uses lossless, hierarchical or arithmetic coding, which browsers do not show and the "
                    "site does not read. Save it as a standard JPEG or as PNG.")
        if marker in SOF_READ:
            size, blocks = _frame(data, position)
        elif marker == SOS:
            scans += 1
            count = data[position + 2] if position + 2 < len(data) else 0
            block_scans += sum(blocks.get(component, 0) for component in data[position + 3:position + 3 + 2 * count:2])
            if scans > 1 and block_scans > limits.block_scans:
                return _scanned_refusal(limits)
        position += int.from_bytes(data[position:position + 2], "big")
    if scans > 1 and (size[0] * size[1] > limits.scanned_pixels or position > limits.scanned_bytes):
        return _scanned_refusal(limits)
    return None


def _scanned_refusal(limits: DecodeLimits) -> str:
    side = math.isqrt(limits.scanned_pixels)
    return (f"This JPEG is stored in several scans (a progressive JPEG). The site reads those of up to {side}×{side} "
            f"pixels and {limits.scanned_bytes / 1e6:g} MB; save it as a standard (baseline) JPEG, or smaller.")


def _frame(data: bytes, position: int) -> tuple[tuple[int, int], dict[int, int]]:
    """From a start-of-frame segment (its length at ``position``): the image's width and height, and each
    component's 8x8 blocks by its id."""
    if position + 8 > len(data):
        return (0, 0), {}
    height, width, count = struct.unpack_from(">HHB", data, position + 3)
    components = [data[position + 8 + 3 * i: position + 10 + 3 * i] for i in range(count)]
    components = [c for c in components if len(c) == 2]
    most_across = max((c[1] >> 4 for c in components), default=1) or 1
    most_down = max((c[1] & 15 for c in components), default=1) or 1
    return (width, height), {c[0]: math.ceil(math.ceil(width * (c[1] >> 4) / most_across) / 8)
                             * math.ceil(math.ceil(height * (c[1] & 15) / most_down) / 8) for c in components}


def size_refusal(image: Image.Image, limits: DecodeLimits = LIMITS) -> str | None:
    """Why this opened, not yet decoded image would cost too much to decode, or None: an encoding Pillow decodes
    in Python, or too many pixels for a compressed format decoded at full size (PNG, GIF, WebP)."""
    if any(tile[0] in Image.DECODERS for tile in image.tile):  # Pillow's decoders written in Python
        if image.format == "BMP":
            return "This BMP uses run-length compression, which the site does not read; save it as PNG."
        return f"This {image.format} uses an encoding the site does not read; save it as PNG."
    if image.format in {"JPEG", "MPO"}:
        return None  # decoded at a reduced scale; its scans and bytes were checked from its structure
    if image.format == "BMP":
        return None  # uncompressed, so an upload's bytes bound it: 5 MB of pixels cost 5-20 ms
    per_pixel = _decoded_bytes_per_pixel(image)
    width, height = image.size
    if width * height * per_pixel <= limits.full_size_bytes:
        return None
    most = int(limits.full_size_bytes / per_pixel)
    return (f"This {image.format} is {width}×{height} pixels; the site reads {image.format} images of its colour "
            f"depth of up to {most:,} pixels (about {math.isqrt(most)}×{math.isqrt(most)}). Save it smaller, or as "
            "JPEG.")


def _decoded_bytes_per_pixel(image: Image.Image) -> float:
    """The bytes of samples one pixel decodes to, as the file holds them (1-bit: an eighth; 16-bit: two a
    sample); a palette image counts as the RGB or RGBA the preprocessing converts it to, a WebP as the RGBA
    libwebp decodes it to."""
    if image.format == "WEBP":
        return 4.0
    if image.mode == "P":
        return 4.0 if "transparency" in image.info else 3.0
    if image.mode == "1":
        return 1 / 8
    rawmode = image.tile[0].args if image.tile and isinstance(image.tile[0].args, str) else ""
    wide = image.mode.startswith("I;16") or (image.format == "PNG" and ";16" in rawmode)  # 16-bit RGB(A), LA
    return len(image.getbands()) * (4 if image.mode in {"I", "F"} else 2 if wide else 1)
