"""Registration, passwords and session lifetimes: the settings the account endpoints obey."""

from __future__ import annotations

from dataclasses import dataclass

from config.errors import ConfigError
from config.reader import Section


@dataclass(frozen=True)
class RegistrationConfig:
    enable_registration: bool = False
    enable_registration_without_verification: bool = False
    registration_requires_token: bool = False
    registration_shared_secret: str | None = None
    allow_guest_access: bool = False
    inhibit_user_in_use_error: bool = False


@dataclass(frozen=True)
class PasswordConfig:
    """Password login and hashing. ``bcrypt_rounds`` is the cost factor: 12 is Synapse's default."""

    enabled: bool = True
    localdb_enabled: bool = True
    pepper: str = ""
    bcrypt_rounds: int = 12
    minimum_length: int = 0
    require_digit: bool = False
    require_symbol: bool = False
    require_lowercase: bool = False
    require_uppercase: bool = False


@dataclass(frozen=True)
class SessionConfig:
    """Token lifetimes in milliseconds; None means the token never expires."""

    refreshable_access_token_lifetime_ms: int | None = 300_000
    refresh_token_lifetime_ms: int | None = None
    nonrefreshable_access_token_lifetime_ms: int | None = None
    session_lifetime_ms: int | None = None


def parse_registration(top: Section) -> RegistrationConfig:
    config = RegistrationConfig(
        enable_registration=top.flag("enable_registration", False),
        enable_registration_without_verification=top.flag("enable_registration_without_verification", False),
        registration_requires_token=top.flag("registration_requires_token", False),
        registration_shared_secret=top.text("registration_shared_secret", None),
        allow_guest_access=top.flag("allow_guest_access", False),
        inhibit_user_in_use_error=top.flag("inhibit_user_in_use_error", False),
    )
    if config.registration_shared_secret is not None and not config.registration_shared_secret:
        raise ConfigError(top.path_of("registration_shared_secret"), "must not be empty")
    # As Synapse: open sign-up with no check at all must be asked for explicitly. Ganglion verifies no email or
    # phone, so a registration token is the only check it can apply.
    if config.enable_registration and not (
        config.enable_registration_without_verification or config.registration_requires_token
    ):
        raise ConfigError(
            top.path_of("enable_registration"),
            "open registration needs registration_requires_token: true, or "
            "enable_registration_without_verification: true if you really want anyone to sign up",
        )
    return config


def parse_passwords(top: Section) -> PasswordConfig:
    section = top.section("password_config")
    policy = section.section("policy")
    policy_on = policy.flag("enabled", False)
    rounds = top.integer("bcrypt_rounds", 12, minimum=4)
    if rounds > 31:
        raise ConfigError(top.path_of("bcrypt_rounds"), "must be at most 31")
    return PasswordConfig(
        enabled=section.flag("enabled", True),
        localdb_enabled=section.flag("localdb_enabled", True),
        pepper=section.text("pepper", ""),
        bcrypt_rounds=rounds,
        minimum_length=policy.integer("minimum_length", 0, minimum=0) * policy_on,
        require_digit=policy.flag("require_digit", False) and policy_on,
        require_symbol=policy.flag("require_symbol", False) and policy_on,
        require_lowercase=policy.flag("require_lowercase", False) and policy_on,
        require_uppercase=policy.flag("require_uppercase", False) and policy_on,
    )


def parse_sessions(top: Section) -> SessionConfig:
    return SessionConfig(
        refreshable_access_token_lifetime_ms=top.duration_ms("refreshable_access_token_lifetime", 300_000),
        refresh_token_lifetime_ms=top.duration_ms("refresh_token_lifetime", None),
        nonrefreshable_access_token_lifetime_ms=top.duration_ms("nonrefreshable_access_token_lifetime", None),
        session_lifetime_ms=top.duration_ms("session_lifetime", None),
    )
