"""The ``presence`` section of Synapse's configuration: whether presence is on, and its timers.

``enabled: false`` turns presence off (Synapse's older top-level ``use_presence`` is read when the section does
not say); ``enabled: untracked`` keeps serving presence but stops this server from changing it. The timers take
Synapse's duration syntax and obey its rule that idleness must take longer than the last-active granularity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from config.errors import ConfigError
from config.reader import Section
from protocol.presence import PresenceTimers

UNTRACKED = "untracked"


@dataclass(frozen=True)
class PresenceConfig:
    enabled: bool = True
    tracked: bool = True
    """Whether this server changes presence (syncs, ``PUT /presence``, timeouts); never when disabled."""
    include_offline_users_on_sync: bool = False
    """Whether an initial sync lists users who are offline too."""
    timers: PresenceTimers = field(default_factory=PresenceTimers)


def parse_presence(top: Section) -> PresenceConfig:
    section = top.section("presence")
    raw = section.raw("enabled")
    if raw is None:
        raw = top.flag("use_presence", True)
    if raw is not True and raw is not False and raw != UNTRACKED:
        raise ConfigError(section.path_of("enabled"), f"expected true, false or {UNTRACKED!r}, got {raw!r}")
    defaults = PresenceTimers()
    timers = PresenceTimers(
        last_active_granularity_ms=section.duration_ms("last_active_granularity",
                                                       defaults.last_active_granularity_ms),
        sync_online_timeout_ms=section.duration_ms("sync_online_timeout", defaults.sync_online_timeout_ms),
        idle_timeout_ms=section.duration_ms("idle_timeout", defaults.idle_timeout_ms),
    )
    for key, value in (("last_active_granularity", timers.last_active_granularity_ms),
                       ("sync_online_timeout", timers.sync_online_timeout_ms)):
        if value <= 0:
            raise ConfigError(section.path_of(key), "must be a positive duration")
    if timers.idle_timeout_ms <= timers.last_active_granularity_ms:
        raise ConfigError(section.path_of("idle_timeout"), "must be greater than last_active_granularity")
    enabled = raw is not False
    return PresenceConfig(enabled=enabled, tracked=enabled and raw != UNTRACKED,
                          include_offline_users_on_sync=section.flag("include_offline_users_on_sync", False),
                          timers=timers)
