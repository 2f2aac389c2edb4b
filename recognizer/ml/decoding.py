"""Posted bytes -> a decoded PIL image, refusing anything unsafe, unreadable or too costly to read first.

Only the accepted formats are opened (PNG, JPEG and MPO, GIF, WebP, BMP), and decode_budget judges the file's
structure and header before a pixel is decoded. A big JPEG is decoded by libjpeg at 1/2, 1/4 or 1/8 scale, just
large enough for the preprocessing (which reduces to about WORKING_SIDE px anyway): ``decoded_scale`` and
``posted_size`` relate it to the image as posted, so what is found in it is placed in the posted image's pixels.
"""

import io
import warnings

from PIL import Image, UnidentifiedImageError

from .decode_budget import size_refusal, structure_refusal

OPENED_FORMATS = ["PNG", "JPEG", "GIF", "WEBP", "BMP"]  # the accepted ones; Pillow's JPEG parser opens MPO too
PHOTO_FORMATS = {"JPEG", "MPO"}  # a camera's: may be stored sideways with an EXIF orientation
MIN_SIDE = 8            # a 1x1 or 4x4 image cannot hold a drawing
WORKING_SIDE = 512      # big images are reduced to about this before any per-pixel work
DECODED_SCALE = "mnistsite.decoded_scale"  # keys of a decoded image's info, set for a JPEG decoded at reduced scale
POSTED_SIZE = "mnistsite.posted_size"


class InvalidImage(ValueError):
    """The bytes are not an image we can read, or hold no digit; the message is for a person."""


def decode_image(data: bytes, *, max_pixels: int) -> Image.Image:
    """Open and fully decode one image, refusing anything unsafe, unreadable or too costly to read (see
    decode_budget) before decoding its pixels. A big JPEG is decoded at a reduced scale: ``posted_size`` and
    ``decoded_scale`` say how it relates to the posted image."""
    if not data:
        raise InvalidImage("The image is empty: no bytes were sent.")
    if refusal := structure_refusal(data):
        raise InvalidImage(refusal)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Only the accepted formats' parsers run: others' (EPS, TIFF...) read their headers in Python.
            image = Image.open(io.BytesIO(data), formats=OPENED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidImage(f"The image claims too many pixels; the limit is {max_pixels:,}.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        if other := _other_format(data):
            raise InvalidImage(f"{other} images are not accepted. Send a PNG, JPEG, GIF, WebP or BMP file.") from None
        raise InvalidImage("This is not an image we can read. Send a PNG, JPEG, GIF, WebP or BMP file.") from None
    width, height = image.size
    if width * height > max_pixels:  # checked from the header, before a single pixel is decoded
        raise InvalidImage(f"The image is {width}×{height} pixels; the limit is {max_pixels:,} pixels in all.")
    if min(width, height) < MIN_SIDE:
        raise InvalidImage(f"The image is only {width}×{height} pixels; a drawing needs at least {MIN_SIDE}×{MIN_SIDE}.")
    if refusal := size_refusal(image):
        raise InvalidImage(refusal)
    try:
        if image.format in PHOTO_FORMATS:
            return _upright(_reduced_jpeg(image))
        image.load()
    except Exception:  # Pillow raises OSError, SyntaxError, ValueError, struct.error... for damaged files
        raise InvalidImage("The image file is damaged or cut short; it could not be decoded.") from None
    return image


def _other_format(data: bytes) -> str | None:
    """The name of a format Pillow knows but the site does not take, from the file's first bytes alone."""
    prefix = data[:16]
    for name in Image.ID:
        accept = Image.OPEN[name][1]
        if name in OPENED_FORMATS or accept is None:
            continue
        try:
            if accept(prefix):
                return name
        except Exception:  # some read past a prefix this short (struct.error, IndexError)
            continue
    return None


def _reduced_jpeg(image: Image.Image) -> Image.Image:
    """A JPEG decoded by libjpeg at 1/2, 1/4 or 1/8 scale, as large as needed to keep WORKING_SIDE px (the
    preprocessing reduces to that anyway); the scale is kept in its info for decoded_scale and posted_size."""
    posted = image.size
    drafted = image.draft("RGB", (WORKING_SIDE, WORKING_SIDE))
    image.load()
    scale = round(posted[0] / drafted[1][2]) if drafted else 1
    if scale > 1:
        image.info[DECODED_SCALE] = scale
        image.info[POSTED_SIZE] = posted
    return image


EXIF_ORIENTATION = 0x0112
TURNS = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
         5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
         8: Image.Transpose.ROTATE_90}  # by EXIF orientation, as ImageOps.exif_transpose turns them
SIDEWAYS = {5, 6, 7, 8}


def _upright(image: Image.Image) -> Image.Image:
    """The photo upright, as the camera held it and as people see it. ImageOps.exif_transpose would also rewrite
    the EXIF, in Python, tag by tag: 70 ms for 64 KB of tags, and nothing here reads them again."""
    orientation = image.getexif().get(EXIF_ORIENTATION, 1)
    if orientation not in TURNS:
        return image
    turned = image.transpose(TURNS[orientation])
    if orientation in SIDEWAYS and POSTED_SIZE in turned.info:
        turned.info[POSTED_SIZE] = turned.info[POSTED_SIZE][::-1]
    return turned


def decoded_scale(image: Image.Image) -> int:
    """How many posted pixels one pixel of this decoded image spans along each side (1 but for big JPEGs)."""
    return image.info.get(DECODED_SCALE, 1)


def posted_size(image: Image.Image) -> tuple[int, int]:
    """The width and height of the image as posted (upright), whatever scale it was decoded at."""
    return image.info.get(POSTED_SIZE, image.size)
