"""The media repository's settings read as Synapse writes them, with errors naming the YAML path."""

from __future__ import annotations

import pytest

from config import ConfigError, parse_config
from config.media import DEFAULT_THUMBNAIL_SIZES, ThumbnailSize, UploadLimit

BASE = {"server_name": "example.org"}


def test_defaults_are_synapses() -> None:
    media = parse_config(BASE).media
    assert media.max_upload_size == 50 * 1024 * 1024 and media.max_image_pixels == 32 * 1024 * 1024
    assert media.thumbnail_sizes == DEFAULT_THUMBNAIL_SIZES
    assert media.enable_authenticated_media and not media.dynamic_thumbnails and not media.url_preview.enabled
    assert media.store_path.endswith("media_store")


def test_sizes_durations_and_thumbnail_sizes_in_synapses_syntax() -> None:
    media = parse_config({**BASE, "max_upload_size": "10M", "max_image_pixels": 1000, "media_store_path": "/m",
                          "thumbnail_sizes": [{"width": 64, "height": 64, "method": "crop"}, {"width": 10,
                                                                                              "height": 20}],
                          "media_upload_limits": [{"time_period": "1h", "max_size": "1G"}],
                          "media_retention": {"local_media_lifetime": "90d"}}).media
    assert (media.max_upload_size, media.max_image_pixels, media.store_path) == (10 * 1024 * 1024, 1000, "/m")
    assert media.thumbnail_sizes == (ThumbnailSize(64, 64, "crop"), ThumbnailSize(10, 20, "scale"))
    assert media.upload_limits == (UploadLimit(3_600_000, 1024**3),)
    assert media.local_media_lifetime_ms == 90 * 86_400_000


@pytest.mark.parametrize(("extra", "path"), [
    ({"max_upload_size": "lots"}, "max_upload_size"),
    ({"max_upload_size": True}, "max_upload_size"),
    ({"thumbnail_sizes": [{"width": 1, "height": 1, "method": "stretch"}]}, "thumbnail_sizes[0].method"),
    ({"thumbnail_sizes": [{"width": 0, "height": 1}]}, "thumbnail_sizes[0].width"),
    ({"url_preview_enabled": True}, "url_preview_ip_range_blacklist"),
    ({"url_preview_enabled": True, "url_preview_ip_range_blacklist": ["not-a-range"]},
     "url_preview_ip_range_blacklist[0]"),
    ({"media_upload_limits": [{"time_period": "0", "max_size": 1}]}, "media_upload_limits[0].time_period"),
])
def test_bad_media_settings_name_their_path(extra: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({**BASE, **extra})
    assert str(raised.value).startswith(path)
