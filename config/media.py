"""The media repository's settings, in Synapse's vocabulary (config_documentation.md, "Media Store").

Sizes take Synapse's syntax (an integer of bytes, or ``"50M"``, ``"10K"``...); durations its ``"1d"`` syntax.
Defaults are Synapse's, so an admin's existing ``homeserver.yaml`` means the same thing here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from config.errors import ConfigError
from config.reader import Section, parse_duration_ms

THUMBNAIL_METHODS = ("crop", "scale")
_SIZE_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


@dataclass(frozen=True)
class ThumbnailSize:
    width: int
    height: int
    method: str


# The sizes the spec says servers SHOULD produce (Client-Server API, "Thumbnails"), Synapse's default too.
DEFAULT_THUMBNAIL_SIZES = (
    ThumbnailSize(32, 32, "crop"),
    ThumbnailSize(96, 96, "crop"),
    ThumbnailSize(320, 240, "scale"),
    ThumbnailSize(640, 480, "scale"),
    ThumbnailSize(800, 600, "scale"),
)


@dataclass(frozen=True)
class UploadLimit:
    """``media_upload_limits``: at most ``max_size`` bytes uploaded by one user within ``time_period_ms``."""

    time_period_ms: int
    max_size: int


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class UrlPreviewConfig:
    """``url_preview_*``: previews fetch what users post, so the addresses they may reach are the admin's call."""

    enabled: bool = False
    ip_range_blacklist: tuple[IpNetwork, ...] = ()
    ip_range_whitelist: tuple[IpNetwork, ...] = ()
    max_spider_size: int = 10 * 1024**2
    accept_language: tuple[str, ...] = ("en",)
    verify_tls: bool = True
    """Off only with Synapse's ``use_insecure_ssl_client_just_for_testing_do_not_use`` (test suites' own certs)."""


S3_PROVIDER_MODULE = "s3_storage_provider.S3StorageProviderBackend"


@dataclass(frozen=True)
class S3ProviderConfig:
    """An S3-compatible bucket behind the local store, as synapse-s3-storage-provider's config names it: uploads are
    copied there before they are recorded, and what is missing locally is read from there."""

    bucket: str
    endpoint_url: str | None = None
    region_name: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    prefix: str = ""


@dataclass(frozen=True)
class MediaConfig:
    store_path: str = "media_store"
    max_upload_size: int = 50 * 1024**2
    max_image_pixels: int = 32 * 1024**2
    """Images with more pixels are never decoded (decompression bombs): no thumbnail, 413 on request."""
    dynamic_thumbnails: bool = False
    thumbnail_sizes: tuple[ThumbnailSize, ...] = DEFAULT_THUMBNAIL_SIZES
    enable_authenticated_media: bool = True
    """As Synapse: media uploaded while this is on is served only by the authenticated ``/_matrix/client/v1``
    endpoints; the legacy ``/_matrix/media`` download and thumbnail endpoints answer 404 for it."""
    unused_expiration_time_ms: int = 24 * 3600 * 1000
    """How long an ``mxc://`` URI from ``POST /_matrix/media/v1/create`` waits for its content."""
    max_pending_media_uploads: int = 5
    upload_limits: tuple[UploadLimit, ...] = field(default=())
    local_media_lifetime_ms: int | None = None
    """``media_retention.local_media_lifetime``: local media not accessed for this long is deleted."""
    remote_media_lifetime_ms: int | None = None
    url_preview: UrlPreviewConfig = field(default_factory=UrlPreviewConfig)
    s3_providers: tuple[S3ProviderConfig, ...] = ()


def parse_size(value: object, path: str) -> int:
    """Synapse's size syntax: bytes as an integer, or a number followed by K, M, G or T (powers of 1024)."""
    if isinstance(value, bool):
        raise ConfigError(path, "expected a size, got a boolean")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str):
        text = value.strip().upper()
        if text.isdigit():
            return int(text)
        if text[:-1].isdigit() and text[-1:] in _SIZE_UNITS:
            return int(text[:-1]) * _SIZE_UNITS[text[-1]]
    raise ConfigError(path, f"expected a size such as 1048576 or '50M', got {value!r}")


def _size(top: Section, key: str, default: int) -> int:
    return parse_size(top.raw(key), top.path_of(key)) if top.has(key) else default


def _thumbnail_sizes(top: Section) -> tuple[ThumbnailSize, ...]:
    if not top.has("thumbnail_sizes"):
        top.raw("thumbnail_sizes")
        return DEFAULT_THUMBNAIL_SIZES
    sizes = []
    for item in top.sections("thumbnail_sizes"):
        method = item.text("method", "scale")
        if method not in THUMBNAIL_METHODS:
            raise ConfigError(item.path_of("method"), f"must be crop or scale, got {method!r}")
        sizes.append(ThumbnailSize(item.integer("width", minimum=1), item.integer("height", minimum=1), method))
    return tuple(dict.fromkeys(sizes))


def _upload_limits(top: Section) -> tuple[UploadLimit, ...]:
    limits = []
    for item in top.sections("media_upload_limits"):
        period = parse_duration_ms(item.raw("time_period"), item.path_of("time_period"))
        if period <= 0:
            raise ConfigError(item.path_of("time_period"), "must be a positive duration")
        limits.append(UploadLimit(period, parse_size(item.raw("max_size"), item.path_of("max_size"))))
    return tuple(limits)


def _networks(top: Section, key: str) -> tuple[IpNetwork, ...]:
    networks = []
    for index, text in enumerate(top.texts(key, ())):
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ConfigError(f"{top.path_of(key)}[{index}]", f"{text!r} is not an IP range (CIDR)") from None
    return tuple(networks)


def _url_preview(top: Section, insecure_outbound_tls: bool) -> UrlPreviewConfig:
    enabled = top.flag("url_preview_enabled", False)
    if enabled and not top.has("url_preview_ip_range_blacklist"):
        # As Synapse: previews must not reach the server's own network unless the admin says which ranges are off
        # limits (loopback, private and link-local ranges at least).
        raise ConfigError(top.path_of("url_preview_ip_range_blacklist"), "is required when url_preview_enabled is true")
    return UrlPreviewConfig(
        enabled=enabled,
        ip_range_blacklist=_networks(top, "url_preview_ip_range_blacklist"),
        ip_range_whitelist=_networks(top, "url_preview_ip_range_whitelist"),
        max_spider_size=_size(top, "max_spider_size", 10 * 1024**2),
        accept_language=top.texts("url_preview_accept_language", ("en",)),
        verify_tls=not insecure_outbound_tls,
    )


def _storage_providers(top: Section) -> tuple[S3ProviderConfig, ...]:
    providers = []
    for item in top.sections("media_storage_providers"):
        module = item.text("module")
        if module != S3_PROVIDER_MODULE:
            raise ConfigError(item.path_of("module"), f"unknown storage provider; Ganglion has {S3_PROVIDER_MODULE}")
        for key in ("store_local", "store_remote", "store_synchronous"):
            item.flag(key, True)  # Synapse's switches: Ganglion always keeps a local copy and copies synchronously
        config = item.section("config", required=True)
        prefix = config.text("prefix", "")
        providers.append(S3ProviderConfig(
            bucket=config.text("bucket"), endpoint_url=config.text("endpoint_url", None),
            region_name=config.text("region_name", None), access_key_id=config.text("access_key_id", None),
            secret_access_key=config.text("secret_access_key", None),
            prefix=prefix if not prefix or prefix.endswith("/") else f"{prefix}/"))
    return tuple(providers)


def parse_media(top: Section, store_path: str, *, insecure_outbound_tls: bool) -> MediaConfig:
    """``store_path`` is ``media_store_path`` already resolved against the config file's directory;
    ``insecure_outbound_tls`` is Synapse's ``use_insecure_ssl_client_just_for_testing_do_not_use``, read once by
    ``parse_config``."""
    retention = top.section("media_retention")
    local_lifetime = retention.duration_ms("local_media_lifetime", None)
    remote_lifetime = retention.duration_ms("remote_media_lifetime", None)
    expiration = top.duration_ms("unused_expiration_time", 24 * 3600 * 1000)
    if expiration <= 0:
        raise ConfigError(top.path_of("unused_expiration_time"), "must be a positive duration")
    return MediaConfig(
        store_path=store_path,
        max_upload_size=_size(top, "max_upload_size", 50 * 1024**2),
        max_image_pixels=_size(top, "max_image_pixels", 32 * 1024**2),
        dynamic_thumbnails=top.flag("dynamic_thumbnails", False),
        thumbnail_sizes=_thumbnail_sizes(top),
        enable_authenticated_media=top.flag("enable_authenticated_media", True),
        unused_expiration_time_ms=expiration,
        max_pending_media_uploads=top.integer("max_pending_media_uploads", 5, minimum=1),
        upload_limits=_upload_limits(top),
        local_media_lifetime_ms=local_lifetime,
        remote_media_lifetime_ms=remote_lifetime,
        url_preview=_url_preview(top, insecure_outbound_tls),
        s3_providers=_storage_providers(top),
    )
