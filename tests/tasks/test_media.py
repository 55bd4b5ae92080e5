"""The media queue's tasks on a real database and a real media store: thumbnails made exactly once however often
the task runs (or a request races it), and retention deleting only what it may, local and cached remote media."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from persistence.database import Database
from persistence.media.records import keep_if_recorded
from persistence.media.storage import FileMediaStorage, content_key, remote_content_key, remote_thumbnail_key
from persistence.media.thumbnails import Thumbnails
from persistence.stores.media import UploadedContent
from persistence.stores.remote_media import RemoteMedia, RemoteThumbnail
from protocol.media import ThumbnailSpec
from tasks.context import TaskContext
from tasks.media import apply_retention, generate_thumbnails
from tests.clock import FakeClock
from tests.tasks.factories import make_context
from tests.web.media import image_bytes

DAY_MS = 86_400_000


def _context(database: Database, tmp_path: Path, clock: FakeClock | None = None, **config: object) -> TaskContext:
    return make_context(database, clock=clock, media_store_path=str(tmp_path / "media"), **config)


def _store_media(context: TaskContext, media_id: str, data: bytes, content_type: str = "image/png") -> None:
    storage = FileMediaStorage(context.config.media.store_path)
    with storage.stage() as staged:
        staged.write(data)
        content = UploadedContent(content_type, None, staged.length, staged.sha256)
        keep_if_recorded(context.database, storage, staged, content_key(media_id), lambda conn: (
            context.stores.media.insert_media(conn, media_id, "@alice:test.local", context.clock.now_ms(),
                                              authenticated=True, content=content) or True))


def _thumbnails(context: TaskContext, media_id: str) -> list[ThumbnailSpec]:
    with context.database.read() as conn:
        return context.stores.media.list_thumbnails(conn, media_id)


def test_thumbnails_are_made_once_however_often_the_task_runs(database: Database, tmp_path: Path) -> None:
    context = _context(database, tmp_path)
    _store_media(context, "pictureOne", image_bytes(1000, 800))
    assert generate_thumbnails(context, media_id="pictureOne") == 5
    first = _thumbnails(context, "pictureOne")
    assert generate_thumbnails(context, media_id="pictureOne") == 5
    assert _thumbnails(context, "pictureOne") == first
    assert len(first) == 5
    assert generate_thumbnails(context, media_id="noSuchMedia") == 0


def test_racing_makers_of_one_thumbnail_record_it_once(database: Database, tmp_path: Path) -> None:
    context = _context(database, tmp_path)
    _store_media(context, "pictureTwo", image_bytes(600, 600))
    with database.read() as conn:
        media = context.stores.media.get_media(conn, "pictureTwo")
    assert media is not None
    storage = FileMediaStorage(context.config.media.store_path)
    thumbnails = Thumbnails(context.config.media, database, context.stores.media, storage)
    spec = ThumbnailSpec(100, 100, "crop", "image/png")
    errors: list[BaseException] = []

    def make() -> None:
        try:
            thumbnails.ensure(media, [spec])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert _thumbnails(context, "pictureTwo") == [spec]
    assert storage.list_staged() == []


def test_non_images_and_undecodable_images_get_no_thumbnails(database: Database, tmp_path: Path) -> None:
    context = _context(database, tmp_path)
    _store_media(context, "textFile", b"hello", "text/plain")
    _store_media(context, "brokenPng", b"not really a png", "image/png")
    assert generate_thumbnails(context, media_id="textFile") == 0
    assert generate_thumbnails(context, media_id="brokenPng") == 0


def test_a_refused_or_failed_record_keeps_no_file(database: Database, tmp_path: Path) -> None:
    storage = FileMediaStorage(str(tmp_path / "media"))
    with storage.stage() as staged:
        staged.write(b"refused")
        assert keep_if_recorded(database, storage, staged, content_key("refusedOne"), lambda conn: False) is False
    assert storage.open(content_key("refusedOne")) is None

    def record_then_fail(conn: object) -> bool:
        raise RuntimeError("the transaction fails")

    with storage.stage() as staged, pytest.raises(RuntimeError):
        staged.write(b"failing")
        keep_if_recorded(database, storage, staged, content_key("failedOne"), record_then_fail)
    assert storage.open(content_key("failedOne")) is None
    assert storage.list_staged() == []


def test_media_keys_stay_inside_the_store(tmp_path: Path) -> None:
    for bad in ("..", "../etc", "a/b", ""):
        with pytest.raises(ValueError):
            content_key(bad)
    assert content_key("abcdefgh") == os.path.join("local_content", "ab", "cd", "efgh")


def test_retention_deletes_unused_media_and_abandoned_ids_only(database: Database, tmp_path: Path) -> None:
    clock = FakeClock()
    context = _context(database, tmp_path, clock, media_retention={"local_media_lifetime": "30d"})
    for media_id in ("oldMedia", "protectedOld", "quarantinedOld"):
        _store_media(context, media_id, b"old")
    generate_thumbnails(context, media_id="oldMedia")
    with database.write() as conn:
        context.stores.media.update_protected(conn, "protectedOld", True)
        context.stores.media.update_quarantined(conn, ["quarantinedOld"], "@admin:test.local")
        context.stores.media.insert_media(conn, "abandonedId", "@alice:test.local", clock.now_ms(),
                                          authenticated=True, content=None, unused_expires_ts=clock.now_ms() + DAY_MS)
    clock.advance(31 * DAY_MS)
    _store_media(context, "freshMedia", b"new")
    assert apply_retention(context) == 2
    with database.read() as conn:
        left = {media.media_id for media in context.stores.media.list_existing(
            conn, ["oldMedia", "protectedOld", "quarantinedOld", "abandonedId", "freshMedia"])}
    assert left == {"protectedOld", "quarantinedOld", "freshMedia"}
    assert FileMediaStorage(context.config.media.store_path).open(content_key("oldMedia")) is None


def _cache_remote(context: TaskContext, media_id: str, *, with_thumbnail: bool = False) -> None:
    """What the remote-media task leaves: the file, a thumbnail's file, and their rows, accessed now."""
    storage = FileMediaStorage(context.config.media.store_path)
    now = context.clock.now_ms()
    with storage.stage() as staged:
        staged.write(b"remote")
        storage.commit(staged, remote_content_key("remote.test", media_id))
    with context.database.write() as conn:
        context.stores.remote_media.upsert_media(conn, RemoteMedia("remote.test", media_id, "text/plain", 6, None,
                                                                   "0" * 64, now, now))
    if with_thumbnail:
        _cache_remote_thumbnail(context, media_id)


def _cache_remote_thumbnail(context: TaskContext, media_id: str) -> None:
    storage = FileMediaStorage(context.config.media.store_path)
    with storage.stage() as staged:
        staged.write(b"thumb")
        storage.commit(staged, remote_thumbnail_key("remote.test", media_id, 32, 32, "crop"))
    with context.database.write() as conn:
        context.stores.remote_media.upsert_thumbnail(conn, "remote.test", media_id, 32, 32, "crop",
                                                     RemoteThumbnail("image/png", 5), context.clock.now_ms())


def test_retention_drops_remote_media_unused_for_its_lifetime(database: Database, tmp_path: Path) -> None:
    clock = FakeClock()
    context = _context(database, tmp_path, clock, media_retention={"remote_media_lifetime": "7d"})
    _cache_remote(context, "staleRemote", with_thumbnail=True)
    _cache_remote_thumbnail(context, "thumbOnlyOld")  # thumbnails are fetched without their original
    _store_media(context, "localOld", b"ours")
    clock.advance(8 * DAY_MS)
    _cache_remote(context, "freshRemote")
    _cache_remote_thumbnail(context, "thumbOnlyNew")
    assert apply_retention(context) == 1, "remote media only: local media has no lifetime here"
    storage = FileMediaStorage(context.config.media.store_path)
    with database.read() as conn:
        assert context.stores.remote_media.get_media(conn, "remote.test", "staleRemote") is None
        assert context.stores.remote_media.get_thumbnail(conn, "remote.test", "staleRemote", 32, 32, "crop") is None
        assert context.stores.remote_media.get_media(conn, "remote.test", "freshRemote") is not None
        assert context.stores.remote_media.get_thumbnail(conn, "remote.test", "thumbOnlyOld", 32, 32, "crop") is None
        assert context.stores.remote_media.get_thumbnail(conn, "remote.test", "thumbOnlyNew", 32, 32, "crop")
    assert storage.open(remote_thumbnail_key("remote.test", "thumbOnlyOld", 32, 32, "crop")) is None
    assert storage.open(remote_content_key("remote.test", "staleRemote")) is None
    assert storage.open(remote_thumbnail_key("remote.test", "staleRemote", 32, 32, "crop")) is None
    kept = storage.open(remote_content_key("remote.test", "freshRemote"))
    assert kept is not None
    kept.handle.close()
