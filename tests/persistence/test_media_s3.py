"""An S3-compatible bucket behind the local media store, against moto's S3 server (tests/s3_server.py):
committed bytes land in the bucket, reads the local store cannot answer come from it, and deletes remove both
copies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from config import ConfigError, parse_config
from config.media import S3ProviderConfig
from persistence.media.storage import FileMediaStorage, ProviderBackedStorage, content_key, media_storage
from tests.s3_server import BUCKET, bucket_keys, provider_config, s3_server


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with s3_server() as endpoint:
        yield endpoint


def _storage(tmp_path: Path, endpoint: str) -> ProviderBackedStorage:
    config = parse_config({"server_name": "test.local", "media_store_path": str(tmp_path / "media"),
                           "media_storage_providers": provider_config(endpoint)})
    assert config.media.s3_providers == (S3ProviderConfig(BUCKET, endpoint, "us-east-1", "testing", "testing",
                                                          "media/"),)
    storage = media_storage(config.media)
    assert isinstance(storage, ProviderBackedStorage)
    return storage


def test_committed_media_is_copied_to_the_bucket_and_read_back_from_it(tmp_path: Path, s3_endpoint: str) -> None:
    storage = _storage(tmp_path, s3_endpoint)
    data = bytes(range(256)) * 4000
    with storage.stage() as staged:
        staged.write(data)
        storage.commit(staged, content_key("s3MediaOne"))
    assert "media/" + content_key("s3MediaOne") in bucket_keys(s3_endpoint)
    FileMediaStorage(str(tmp_path / "media")).delete(content_key("s3MediaOne"))  # the local disk lost it
    stored = storage.open(content_key("s3MediaOne"))
    assert stored is not None and stored.length == len(data)
    with stored.handle:
        assert stored.handle.read() == data
    storage.delete(content_key("s3MediaOne"))
    assert storage.open(content_key("s3MediaOne")) is None
    assert "media/" + content_key("s3MediaOne") not in bucket_keys(s3_endpoint)


def test_unknown_storage_provider_modules_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"media_storage_providers\[0\]\.module"):
        parse_config({"server_name": "test.local", "media_storage_providers": [{"module": "x.Y", "config": {}}]})
