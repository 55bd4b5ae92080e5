"""Which thumbnails an image gets, and making one exactly once.

The configured ``thumbnail_sizes`` are planned from the image's upright size (never larger than the image);
the ``media`` queue makes them after an upload, and a request that arrives first makes the one it needs itself.
Either way the thumbnail is rendered to a staged file and recorded with its bytes in one step
(:func:`persistence.media.records.keep_if_recorded`): of two makers of the same thumbnail the first record wins.

Serving a thumbnail already made is the hot path, so it reads neither the original nor the thumbnail rows: the
original's upright size is remembered per process (:class:`SourceImages`: an upload's bytes never change, and a
media id is never reused), and a thumbnail whose file is in storage is served from it (files only ever appear
whole, by rename, and hold the one rendering of their key).
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import BinaryIO

from config.media import MediaConfig
from persistence.database import Database
from persistence.media.records import keep_if_recorded
from persistence.media.storage import MediaStorage, StoredFile, content_key, thumbnail_key
from persistence.media.thumbnailer import (
    ANIMATED_TYPE,
    CannotThumbnail,
    SourceImage,
    can_thumbnail,
    inspect_image,
    render_thumbnails,
    static_thumbnail_type,
)
from persistence.stores.media import LocalMedia, MediaStore
from protocol.media import ThumbnailSpec, needs_thumbnail, select_thumbnail, thumbnail_size


def planned_thumbnails(config: MediaConfig, source: SourceImage, content_type: str) -> list[ThumbnailSpec]:
    """The configured thumbnails of an image: one per configured size the image is larger than."""
    output_type = static_thumbnail_type(content_type)
    planned = []
    for size in config.thumbnail_sizes:
        requested = (size.width, size.height)
        if needs_thumbnail(source.size, requested):
            width, height = thumbnail_size(size.method, source.size, requested)
            planned.append(ThumbnailSpec(width, height, size.method, output_type))
    return list(dict.fromkeys(planned))


class SourceImages:
    """media id -> the image's :class:`SourceImage`, for one process; thread-safe and bounded (least recently used
    goes first). Never stale: uploaded bytes are never replaced, and a deleted media's id is never handed out
    again (nor served: its row is gone before this is asked)."""

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._entries: OrderedDict[str, SourceImage] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, media_id: str) -> SourceImage | None:
        with self._lock:
            found = self._entries.get(media_id)
            if found is not None:
                self._entries.move_to_end(media_id)
            return found

    def put(self, media_id: str, source: SourceImage) -> None:
        with self._lock:
            self._entries[media_id] = source
            self._entries.move_to_end(media_id)
            if len(self._entries) > self.MAX_ENTRIES:
                self._entries.popitem(last=False)


class Thumbnails:
    """Thumbnails of local media, for the task that pre-generates them and the views that serve them."""

    def __init__(self, config: MediaConfig, database: Database, store: MediaStore, storage: MediaStorage,
                 sources: SourceImages | None = None) -> None:
        self._config = config
        self._database = database
        self._store = store
        self._storage = storage
        self._sources = sources if sources is not None else SourceImages()

    @contextlib.contextmanager
    def _content(self, media: LocalMedia) -> Iterator[BinaryIO]:
        stored = self._storage.open(content_key(media.media_id))
        if stored is None:
            raise CannotThumbnail("the content is missing from media storage")
        with stored.handle:
            yield stored.handle

    def inspect(self, media: LocalMedia) -> SourceImage:
        """The image's upright size; raises CannotThumbnail or ImageTooLarge."""
        if not can_thumbnail(media.media_type):
            raise CannotThumbnail(f"cannot thumbnail {media.media_type}")
        source = self._sources.get(media.media_id)
        if source is None:
            with self._content(media) as handle:
                source = inspect_image(handle, self._config.max_image_pixels)
            self._sources.put(media.media_id, source)
        return source

    def ensure(self, media: LocalMedia, specs: list[ThumbnailSpec]) -> None:
        """Make and record those of ``specs`` not recorded already (from one decode of the image)."""
        with self._database.read() as conn:
            recorded = set(self._store.list_thumbnails(conn, media.media_id))
        missing = [spec for spec in specs if spec not in recorded]
        if not missing:
            return
        with self._content(media) as handle:
            rendered = render_thumbnails(handle, missing, self._config.max_image_pixels)
        for spec, data in zip(missing, rendered, strict=True):
            self._keep(media.media_id, spec, data)

    def _keep(self, media_id: str, spec: ThumbnailSpec, data: bytes) -> None:
        with self._storage.stage() as staged:
            staged.write(data)
            keep_if_recorded(
                self._database, self._storage, staged,
                thumbnail_key(media_id, spec.width, spec.height, spec.method, spec.content_type),
                lambda conn: self._store.lock_media(conn, media_id)  # not deleted meanwhile, nor until commit
                and self._store.insert_thumbnail(conn, media_id, spec, staged.length))

    def pregenerate(self, media: LocalMedia) -> int:
        """Make every configured thumbnail of ``media``; returns how many it has."""
        if not can_thumbnail(media.media_type) or media.media_type is None:
            return 0
        planned = planned_thumbnails(self._config, self.inspect(media), media.media_type)
        self.ensure(media, planned)
        return len(planned)

    def for_request(self, media: LocalMedia, width: int, height: int, method: str,
                    animated: bool) -> ThumbnailSpec | None:
        """The thumbnail to answer a request with (see :meth:`open`); None means "serve the original", which
        the spec asks for when the image is no larger than the request. ``animated`` (v1.11) gets an animated
        thumbnail of an animated image; without it an animated image is never served animated."""
        source = self.inspect(media)
        content_type = media.media_type or ""
        animate = animated and source.animated
        if not needs_thumbnail(source.size, (width, height)):
            if animate or not source.animated:
                return None
            spec: ThumbnailSpec | None = ThumbnailSpec(source.width, source.height, "scale",
                                                       static_thumbnail_type(content_type))
        elif self._config.dynamic_thumbnails:
            spec = ThumbnailSpec(*thumbnail_size(method, source.size, (width, height)), method,
                                 static_thumbnail_type(content_type))
        else:
            spec = select_thumbnail(planned_thumbnails(self._config, source, content_type), width, height, method)
            if spec is None:  # smaller than every configured size: the image is its own thumbnail
                return None if not source.animated or animate else ThumbnailSpec(
                    source.width, source.height, "scale", static_thumbnail_type(content_type))
        if animate:
            spec = ThumbnailSpec(spec.width, spec.height, spec.method, ANIMATED_TYPE)
        return spec

    def open(self, media: LocalMedia, spec: ThumbnailSpec) -> StoredFile | None:
        """The thumbnail ``spec`` of ``media`` for reading, made now if it is not in storage yet (a request that
        came before the ``media`` queue made it, or a dynamic size); None if it cannot be found even then."""
        key = thumbnail_key(media.media_id, spec.width, spec.height, spec.method, spec.content_type)
        stored = self._storage.open(key)
        if stored is None:
            self.ensure(media, [spec])
            stored = self._storage.open(key)
        return stored
