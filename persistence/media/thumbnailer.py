"""Making thumbnails with Pillow: static ``scale``/``crop`` thumbnails and animated ones.

Images are turned upright by their EXIF orientation first, so sizes are those a viewer sees. An image with more
than ``max_image_pixels`` pixels is refused before any pixel is decoded (a small file can claim a huge canvas:
a decompression bomb); Pillow only reads the header until :meth:`PIL.Image.Image.load`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from protocol.media import ThumbnailSpec, base_content_type

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
    try:
        image = Image.open(handle)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as error:
        raise CannotThumbnail(str(error)) from None
    if image.width * image.height > max_pixels:
        raise ImageTooLarge(f"{image.width}x{image.height} is more than {max_pixels} pixels")
    return image


def inspect_image(handle: BinaryIO, max_pixels: int) -> SourceImage:
    """The upright size of the image in ``handle`` and whether it is animated, from its header alone."""
    image = _open(handle, max_pixels)
    width, height = image.size
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION)
    except Exception:  # a broken EXIF block is not worth refusing the image for
        orientation = None
    if orientation in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    frames = getattr(image, "n_frames", 1)
    animated = frames > 1 and image.format in ("GIF", "WEBP", "PNG")
    return SourceImage(width, height, animated)


def _resized(frame: Image.Image, spec: ThumbnailSpec) -> Image.Image:
    if frame.mode not in ("RGB", "RGBA", "L", "LA"):
        frame = frame.convert("RGBA")
    if spec.method == "crop":
        return ImageOps.fit(frame, (spec.width, spec.height), Image.Resampling.LANCZOS)
    return frame.resize((spec.width, spec.height), Image.Resampling.LANCZOS)


def render_thumbnail(handle: BinaryIO, spec: ThumbnailSpec, max_pixels: int) -> bytes:
    """The thumbnail ``spec`` of the image in ``handle``, encoded as ``spec.content_type``."""
    image = _open(handle, max_pixels)
    try:
        if spec.content_type == ANIMATED_TYPE and getattr(image, "n_frames", 1) > 1:
            return _render_animated(image, spec)
        upright = ImageOps.exif_transpose(image)
        thumbnail = _resized(upright, spec)
        output = io.BytesIO()
        if spec.content_type == "image/jpeg":
            thumbnail.convert("RGB").save(output, "JPEG", quality=80)
        else:
            thumbnail.save(output, "PNG")
        return output.getvalue()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise CannotThumbnail(str(error)) from None


def _render_animated(image: Image.Image, spec: ThumbnailSpec) -> bytes:
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
