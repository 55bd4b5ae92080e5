"""Where media bytes live: a :class:`MediaStorage` port and its filesystem implementation.

Every write goes through a staged file: the bytes are streamed to a temporary file in the store's own ``tmp``
folder (the same filesystem, so the final rename is atomic), flushed with ``fsync``, and only then renamed into
place, so a reader never sees a half-written file. The caller renames inside the database transaction that
records the file, and deletes it again if that transaction fails. A second implementation (an S3-compatible
bucket) would keep staging on local disk and upload in :meth:`MediaStorage.commit`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from config.media import MediaConfig
from protocol.media import is_valid_media_id, is_valid_media_origin


class StagedFile:
    """Bytes being written to a temporary file, not yet visible under any media path. Counts and hashes them as
    they come, so a stream needs no second pass."""

    def __init__(self, path: str, handle: BinaryIO) -> None:
        self.path = path
        self.length = 0
        self._handle = handle
        self._digest = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self._handle.write(chunk)
        self._digest.update(chunk)
        self.length += len(chunk)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def finish(self) -> None:
        """Flush and ``fsync`` the bytes: after this they survive a crash (once renamed into place)."""
        if not self._handle.closed:
            self._handle.flush()
            _fsync(self._handle.fileno())
            self._handle.close()


@dataclass(frozen=True)
class StoredFile:
    """Stored bytes opened for reading, with their length (a response needs it before the first byte)."""

    handle: BinaryIO
    length: int


class MediaStorage(Protocol):
    """The media store's port: staged writes made visible atomically, reads, deletes. Keys are relative paths
    built by :func:`content_key` and :func:`thumbnail_key` from validated ids only."""

    def stage(self) -> contextlib.AbstractContextManager[StagedFile]:
        """A temporary file to write to; removed on exit unless committed."""

    def commit(self, staged: StagedFile, key: str) -> None:
        """Make the staged bytes durable under ``key``, replacing nothing half-written (atomic)."""

    def open(self, key: str) -> StoredFile | None:
        """The content under ``key`` for reading (the caller closes it), or None if there is none."""

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""

    def redirect_url(self, key: str, content_type: str, disposition: str) -> str | None:
        """A URL that serves ``key`` under these headers without us, when the bytes live only somewhere that
        can (a bucket's presigned URL); None when we hold them, or cannot hand them out that way."""


def _shards(media_id: str) -> str:
    """``abcdefgh`` -> ``ab/cd/efgh``: a few hundred entries per folder even with millions of files."""
    if not is_valid_media_id(media_id):
        raise ValueError(f"not a media id: {media_id!r}")
    if len(media_id) <= 4:
        return f"_/{media_id}"
    return f"{media_id[:2]}/{media_id[2:4]}/{media_id[4:]}"


def content_key(media_id: str) -> str:
    return f"local_content/{_shards(media_id)}"


def remote_content_key(origin: str, media_id: str) -> str:
    """Another server's media cached here, apart from ours: ``remote_content/<origin>/ab/cd/efgh``."""
    # A server name may be ``..`` to the grammar; as a folder name it must not climb out of remote_content.
    if not is_valid_media_origin(origin) or origin.startswith("."):
        raise ValueError(f"not a server name: {origin!r}")
    return f"remote_content/{origin}/{_shards(media_id)}"


def remote_thumbnail_key(origin: str, media_id: str, width: int, height: int, method: str) -> str:
    if method not in ("crop", "scale"):
        raise ValueError(f"not a thumbnail method: {method}")
    return f"remote_thumbnails/{remote_content_key(origin, media_id).partition('/')[2]}/{width}-{height}-{method}"


def thumbnail_key(media_id: str, width: int, height: int, method: str, content_type: str) -> str:
    subtype = content_type.partition("/")[2]
    if method not in ("crop", "scale") or not subtype.isalnum():
        raise ValueError(f"not a thumbnail: {method} {content_type}")
    return f"local_thumbnails/{_shards(media_id)}/{width}-{height}-{subtype}-{method}"


class FileMediaStorage:
    """Media under ``media_store_path``, in Synapse's sharded layout (``local_content/ab/cd/efgh...``)."""

    def __init__(self, base: str) -> None:
        self._base = os.path.abspath(base)
        self._tmp = os.path.join(self._base, "tmp")

    def path_of(self, key: str) -> str:
        """Where ``key`` lives on disk (for providers that copy it elsewhere)."""
        return self._path(key)

    def _path(self, key: str) -> str:
        path = os.path.normpath(os.path.join(self._base, key))
        if not path.startswith(self._base + os.sep):  # keys come from validated ids; this is the last fence
            raise ValueError(f"media key outside the store: {key!r}")
        return path

    @contextlib.contextmanager
    def stage(self) -> Iterator[StagedFile]:
        try:
            descriptor, path = tempfile.mkstemp(dir=self._tmp, prefix="upload-")
        except FileNotFoundError:  # the first upload to a new store: folders are made on a miss, not checked each time
            os.makedirs(self._tmp, exist_ok=True)
            descriptor, path = tempfile.mkstemp(dir=self._tmp, prefix="upload-")
        handle = os.fdopen(descriptor, "wb")
        try:
            yield StagedFile(path, handle)
        finally:
            handle.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # gone already once committed

    def commit(self, staged: StagedFile, key: str) -> None:
        final = self._path(key)
        staged.finish()
        try:
            os.replace(staged.path, final)
        except FileNotFoundError:  # the first file of its shard folder
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(staged.path, final)
        _fsync_directory(os.path.dirname(final))

    def open(self, key: str) -> StoredFile | None:
        try:
            handle = open(self._path(key), "rb")  # noqa: SIM115 - handed to the caller, who closes it
        except FileNotFoundError:
            return None
        return StoredFile(handle, os.fstat(handle.fileno()).st_size)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(key))

    def has(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def redirect_url(self, key: str, content_type: str, disposition: str) -> str | None:
        return None  # bytes on our own disk are served by us

    def list_staged(self) -> list[str]:
        """Temporary files present now (tests check an upload that failed left none behind)."""
        try:
            return sorted(os.listdir(self._tmp))
        except FileNotFoundError:
            return []


def _fsync_directory(path: str) -> None:
    """Make the rename itself durable: without this a crash may forget the directory entry."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        _fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync(descriptor: int) -> None:
    """``os.fsync``, which waits for the disk (tens of milliseconds on a busy one). In a gevent web worker that wait
    would stop every request of the process, so there it runs on gevent's pool of native threads and only this
    request waits; elsewhere (threads, Celery) the call releases the GIL by itself."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        import gevent

        gevent.get_hub().threadpool.apply(os.fsync, (descriptor,))
        return
    os.fsync(descriptor)


class StorageProvider(Protocol):
    """A second home for media bytes behind the local store (``media_storage_providers``)."""

    def upload(self, path: str, key: str) -> None: ...

    def open(self, key: str) -> StoredFile | None: ...

    def delete(self, key: str) -> None: ...

    def presigned_url(self, key: str, content_type: str, disposition: str) -> str | None:
        """A short-lived URL serving ``key`` with these response headers, or None if the provider lacks it."""


class ProviderBackedStorage:
    """The local store with providers behind it, as Synapse runs them (``store_synchronous``): a commit is copied
    to every provider before it returns, so it is there before its row is committed; a read the local store
    cannot answer goes to the providers in order; a delete removes every copy."""

    def __init__(self, local: FileMediaStorage, providers: tuple[StorageProvider, ...]) -> None:
        self._local = local
        self._providers = providers

    def stage(self) -> contextlib.AbstractContextManager[StagedFile]:
        return self._local.stage()

    def commit(self, staged: StagedFile, key: str) -> None:
        self._local.commit(staged, key)
        for provider in self._providers:
            provider.upload(self._local.path_of(key), key)

    def open(self, key: str) -> StoredFile | None:
        found = self._local.open(key)
        for provider in self._providers:
            if found is not None:
                break
            found = provider.open(key)
        return found

    def delete(self, key: str) -> None:
        self._local.delete(key)
        for provider in self._providers:
            provider.delete(key)

    def redirect_url(self, key: str, content_type: str, disposition: str) -> str | None:
        """A provider's presigned URL for bytes missing from the local disk (a purged or never-local copy), so a
        client that allows redirects downloads from the bucket instead of through us; None when they are local
        (served from disk, cheapest) or in no provider."""
        if self._local.has(key):
            return None
        for provider in self._providers:
            url = provider.presigned_url(key, content_type, disposition)
            if url is not None:
                return url
        return None


@functools.lru_cache(maxsize=8)
def media_storage(config: MediaConfig) -> MediaStorage:
    """The storage configured for this deployment: ``media_store_path``, with any ``media_storage_providers``.

    Made once per process and configuration: an S3 provider opens a boto3 client (credentials, endpoint
    resolution, a connection pool), far too dear to repeat per request, and boto3 clients may be shared by
    threads. The storages hold no other state (every file operation goes to the disk or the bucket)."""
    local = FileMediaStorage(config.store_path)
    if not config.s3_providers:
        return local
    from persistence.media.s3 import S3Provider

    return ProviderBackedStorage(local, tuple(S3Provider(provider) for provider in config.s3_providers))
