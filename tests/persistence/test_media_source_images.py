"""The per-process memory of local images' sizes that lets a stored thumbnail be served without the original."""

from __future__ import annotations

from persistence.media.thumbnailer import SourceImage
from persistence.media.thumbnails import SourceImages


def test_source_images_keep_the_most_recently_used_within_their_bound() -> None:
    sources = SourceImages()
    first, other = SourceImage(1600, 1200, False), SourceImage(10, 20, True)
    sources.put("first", first)
    for index in range(SourceImages.MAX_ENTRIES - 1):
        sources.put(f"media{index}", other)
    assert sources.get("first") == first  # used: now the most recent
    sources.put("one-more", other)
    assert sources.get("first") == first
    assert sources.get("media0") is None  # the least recently used went
    assert sources.get("one-more") == other
