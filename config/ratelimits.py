"""The ``rc_*`` rate-limit settings, with Synapse's defaults, as a flat table of named buckets.

Synapse nests some of them (``rc_login.address``); Ganglion names each bucket by its dotted path so the web tier
asks for ``limits["rc_login.address"]`` and never cares about the nesting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from config.errors import ConfigError
from config.reader import Section


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: ``burst_count`` actions at once, refilled at ``per_second``."""

    per_second: float
    burst_count: int


# Synapse's documented defaults (config_documentation.md, "Ratelimiting").
_FLAT_DEFAULTS: dict[str, RateLimit] = {
    "rc_message": RateLimit(0.2, 10),
    "rc_registration": RateLimit(0.17, 3),
    "rc_registration_token_validity": RateLimit(0.1, 5),
    "rc_admin_redaction": RateLimit(0.2, 10),
    "rc_joins_per_room": RateLimit(1, 10),
    "rc_3pid_validation": RateLimit(0.003, 5),
    "rc_third_party_invite": RateLimit(0.2, 10),
    "rc_media_create": RateLimit(10, 50),
    "rc_room_creation": RateLimit(0.05, 10),
    "rc_profile": RateLimit(1, 10),
    "rc_reports": RateLimit(1, 5),
    "rc_delayed_event_mgmt": RateLimit(1, 5),
    "rc_key_requests": RateLimit(20, 100),
}
_NESTED_DEFAULTS: dict[str, dict[str, RateLimit]] = {
    "rc_login": {
        "address": RateLimit(0.003, 5),
        "account": RateLimit(0.003, 5),
        "failed_attempts": RateLimit(0.17, 3),
    },
    "rc_joins": {"local": RateLimit(0.1, 10), "remote": RateLimit(0.01, 10)},
    "rc_invites": {
        "per_room": RateLimit(0.3, 10),
        "per_user": RateLimit(0.003, 5),
        "per_issuer": RateLimit(0.3, 10),
    },
    "rc_presence": {"per_user": RateLimit(0.1, 1)},
}


@dataclass(frozen=True)
class FederationRateLimit:
    """``rc_federation``: a per-origin sliding window rather than a bucket."""

    window_size_ms: int = 1000
    sleep_limit: int = 10
    sleep_delay_ms: int = 500
    reject_limit: int = 50
    concurrent: int = 3


@dataclass(frozen=True)
class RateLimits:
    buckets: Mapping[str, RateLimit]
    federation: FederationRateLimit

    def __getitem__(self, name: str) -> RateLimit:
        return self.buckets[name]


def _parse_bucket(section: Section, default: RateLimit) -> RateLimit:
    return RateLimit(
        per_second=section.number("per_second", default.per_second, minimum=0),
        burst_count=section.integer("burst_count", default.burst_count, minimum=0),
    )


def parse_ratelimits(top: Section) -> RateLimits:
    buckets: dict[str, RateLimit] = {}
    for name, default in _FLAT_DEFAULTS.items():
        buckets[name] = _parse_bucket(top.section(name), default)
    for name, parts in _NESTED_DEFAULTS.items():
        nested = top.section(name)
        for part, default in parts.items():
            buckets[f"{name}.{part}"] = _parse_bucket(nested.section(part), default)
    fed = top.section("rc_federation")
    federation = FederationRateLimit(
        window_size_ms=fed.integer("window_size", 1000, minimum=1),
        sleep_limit=fed.integer("sleep_limit", 10, minimum=0),
        sleep_delay_ms=fed.integer("sleep_delay", 500, minimum=0),
        reject_limit=fed.integer("reject_limit", 50, minimum=0),
        concurrent=fed.integer("concurrent", 3, minimum=1),
    )
    if federation.reject_limit and federation.sleep_limit > federation.reject_limit:
        raise ConfigError(fed.path_of("sleep_limit"), "must not exceed reject_limit")
    return RateLimits(buckets=buckets, federation=federation)
