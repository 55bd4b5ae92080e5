"""Making thumbnails with Pillow: static ``scale``/``crop`` thumbnails and animated ones.

Images are turned upright by their EXIF orientation first, so sizes are those a viewer sees. An image with more
than ``max_image_pixels`` pixels is refused before any pixel is decoded (a small file can claim a huge canvas:
a decompression bomb); Pillow only reads the header until :meth:`PIL.Image.Image.load`.

Pillow is imported on first use, not with this module: every process imports the media tasks, few ever make a
thumbnail, and Pillow's modules cost each process ~2.4 MiB (bench/README.md, "Idle memory").
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from protocol.media import ThumbnailSpec, base_content_type

if TYPE_CHECKING:
    from PIL import Image

THUMBNAILABLE_TYPES = frozenset({"image/jpeg", "image/jpg", "image/png", "image/gif", "image/webp"})
ANIMATED_TYPE = "image/webp"
"""Animated thumbnails are WebP, as the spec prefers (v1.11, ``animated``)."""
MAX_ANIMATED_FRAMES = 100
_TRANSPOSED_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that swap width and height
_EXIF_ORIENTATION = 0x0112


class CannotThumbnail(Exception):
    """The content is not an image Pillow can decode."""


class ImageTooLarge(Exception):
    """The image has more pixels than ``max_image_pixels``."""


@dataclass(frozen=True)
class SourceImage:
    width: int
    height: int
    animated: bool
    """More than one frame, in a format an animated thumbnail can be made of."""

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


def can_thumbnail(content_type: str | None) -> bool:
    return content_type is not None and base_content_type(content_type) in THUMBNAILABLE_TYPES


def static_thumbnail_type(content_type: str) -> str:
    """JPEG stays JPEG (photos compress better); everything else becomes PNG, which keeps transparency."""
    return "image/jpeg" if base_content_type(content_type) in ("image/jpeg", "image/jpg") else "image/png"


def _open(handle: BinaryIO, max_pixels: int) -> Image.Image:
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(handle)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as error:
        raise CannotThumbnail(str(error)) from None
    if image.width * image.height > max_pixels:
        raise ImageTooLarge(f"{image.width}x{image.height} is more than {max_pixels} pixels")
    return image


def _orientation(image: Image.Image) -> int | None:
    """The EXIF orientation known from the header. A PNG's eXIf chunk may follow the pixels, and Pillow decodes
    the whole image to find it: only one found before them (already in ``info``) is used."""
    if image.format == "PNG" and "exif" not in image.info:
        return None
    try:
        value = image.getexif().get(_EXIF_ORIENTATION)
    except Exception:  # a broken EXIF block is not worth refusing the image for
        return None
    return value if isinstance(value, int) else None


def inspect_image(handle: BinaryIO, max_pixels: int) -> SourceImage:
    """The upright size of the image in ``handle`` and whether it is animated, from its header alone."""
    image = _open(handle, max_pixels)
    width, height = image.size
    if _orientation(image) in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    frames = getattr(image, "n_frames", 1)
    animated = frames > 1 and image.format in ("GIF", "WEBP", "PNG")
    return SourceImage(width, height, animated)


def _resized(frame: Image.Image, spec: ThumbnailSpec) -> Image.Image:
    from PIL import Image, ImageOps

    if frame.mode not in ("RGB", "RGBA", "L", "LA"):
        frame = frame.convert("RGBA")
    if spec.method == "crop":
        return ImageOps.fit(frame, (spec.width, spec.height), Image.Resampling.LANCZOS)
    return frame.resize((spec.width, spec.height), Image.Resampling.LANCZOS)


def render_thumbnails(handle: BinaryIO, specs: Sequence[ThumbnailSpec], max_pixels: int) -> list[bytes]:
    """The thumbnails ``specs`` of the image in ``handle``, each encoded as its ``content_type``. The image is
    decoded once for all of them, and a JPEG only at the scale the largest needs (Pillow's ``draft``)."""
    from PIL import Image, ImageOps

    image = _open(handle, max_pixels)
    try:
        rendered: dict[ThumbnailSpec, bytes] = {}
        if getattr(image, "n_frames", 1) > 1:
            for spec in specs:
                if spec.content_type == ANIMATED_TYPE:
                    rendered[spec] = _render_animated(image, spec)
            image.seek(0)
        still = [spec for spec in specs if spec not in rendered]
        if image.format == "JPEG" and still:
            transposed = _orientation(image) in _TRANSPOSED_ORIENTATIONS
            widest = max(spec.height if transposed else spec.width for spec in still)
            tallest = max(spec.width if transposed else spec.height for spec in still)
            image.draft("RGB", (widest, tallest))
        if still:
            upright = ImageOps.exif_transpose(image)
            rendered.update((spec, _encode(_resized(upright, spec), spec.content_type)) for spec in still)
        return [rendered[spec] for spec in specs]
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise CannotThumbnail(str(error)) from None


def _encode(thumbnail: Image.Image, content_type: str) -> bytes:
    output = io.BytesIO()
    if content_type == "image/jpeg":
        thumbnail.convert("RGB").save(output, "JPEG", quality=80)
    elif content_type == ANIMATED_TYPE:  # one frame of an image asked for animated that turned out still
        thumbnail.save(output, "WEBP", quality=80)
    else:
        thumbnail.save(output, "PNG")
    return output.getvalue()


def _render_animated(image: Image.Image, spec: ThumbnailSpec) -> bytes:
    from PIL import ImageSequence

    frames, durations = [], []
    for index, frame in enumerate(ImageSequence.Iterator(image)):
        if index >= MAX_ANIMATED_FRAMES:
            break
        frames.append(_resized(frame.convert("RGBA"), spec))
        durations.append(int(frame.info.get("duration", 100)) or 100)
    output = io.BytesIO()
    frames[0].save(output, "WEBP", save_all=True, append_images=frames[1:], duration=durations,
                   loop=int(image.info.get("loop", 0)), quality=80)
    return output.getvalue()
