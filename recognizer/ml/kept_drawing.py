"""What is kept of a posted drawing: a PNG at most KEPT_SIDE px on its longer side and KEPT_BYTES long (issue 25).

The 28x28 the network reads is made from the full decoded image before this runs; the kept copy is for people
(the page's sample list, staff review, the export), so it is the drawing scaled down, and when noise would make
even that too large, in greys, then in 16 of them (a 4-bit PNG, under 132 KB at 512x512 whatever the pixels).
A save never fails for size: past that, the copy only gets smaller.
"""

import io
from collections.abc import Iterator

import numpy as np
from PIL import Image

from .decoding import decoded_scale
from .preprocessing import HIGH_BIT_DEPTH_MODES, stretched_grey

KEPT_SIDE = 512
KEPT_BYTES = 150_000
FEW_GREYS = 16

Box = tuple[int, int, int, int]  # x, y, width, height


def kept_drawing(image: Image.Image, *, box: Box | None = None) -> bytes:
    """The PNG kept of a decoded image, or of the part of it around ``box`` (in the posted image's pixels, as
    numbers.read_number gives a digit's), with a margin of a tenth of the box's longer side."""
    image = _storable(_part(image, box) if box else image)
    if max(image.size) > KEPT_SIDE:
        image = image.copy()
        image.thumbnail((KEPT_SIDE, KEPT_SIDE))
    for version in _ever_smaller(image):
        data = _png(version)
        if len(data) <= KEPT_BYTES:
            return data
    raise AssertionError("unreachable: _ever_smaller never ends")


def _ever_smaller(image: Image.Image) -> Iterator[Image.Image]:
    """The image, then in greys, then in FEW_GREYS greys, then (only should the limits change) halved, again and
    again, in FEW_GREYS greys."""
    yield image
    if image.mode in {"RGB", "RGBA"}:
        yield _grey(image)
    while True:
        yield _few_greys(image)
        image = image.resize((max(1, image.width // 2), max(1, image.height // 2)), Image.Resampling.BOX)


def _part(image: Image.Image, box: Box) -> Image.Image:
    """The box of the posted image, with a margin, cut from the decoded image (which a JPEG may be at 1/n)."""
    x, y, width, height = box
    margin = max(2, round(0.1 * max(width, height)))
    scale = decoded_scale(image)
    return image.crop((max(0, x - margin) // scale, max(0, y - margin) // scale,
                       min(image.width, -(-(x + width + margin) // scale)),
                       min(image.height, -(-(y + height + margin) // scale))))


def _storable(image: Image.Image) -> Image.Image:
    """The image in a mode a PNG holds as it looks: 16-bit and float greys stretched to 8 bits (converting
    would clip them to white), palettes and the rest as RGBA."""
    if image.mode in HIGH_BIT_DEPTH_MODES:
        return Image.fromarray(np.round(stretched_grey(image) * 255).astype(np.uint8), mode="L")
    if image.mode not in {"RGBA", "RGB", "LA", "L"}:
        return image.convert("RGBA")
    return image


def _grey(image: Image.Image) -> Image.Image:
    return image.convert({"RGBA": "LA", "RGB": "L"}.get(image.mode, image.mode))


def _few_greys(image: Image.Image) -> Image.Image:
    """FEW_GREYS greys (with their transparency) in a palette: 4 bits a pixel."""
    return _grey(image).convert("RGBA").quantize(FEW_GREYS, method=Image.Quantize.FASTOCTREE)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **({"bits": 4} if image.mode == "P" else {}))
    return buffer.getvalue()
