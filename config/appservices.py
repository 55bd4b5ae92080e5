"""``app_service_config_files``: the application service registration files (Application Service API,
"Registration"), read at start.

A bad file stops the start with the file and key named: a missing token, a duplicate id or token across files, a
regex that does not compile, or two appservices claiming the same thing exclusively. Exact overlap is what can be
proved without solving regex intersection: the same exclusive regex in two files, or one appservice's exclusive
user regex matching another's own sender.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

from config.errors import ConfigError
from config.reader import Section
from protocol.appservices import NAMESPACE_KINDS, USERS, AppService, AppServices, Namespace
from protocol.errors import InvalidUsername
from protocol.identifiers import check_new_localpart

_EXTRA_KEYS = (
    "de.sorunome.msc2409.push_ephemeral", "push_ephemeral", "io.element.msc4190",
    "org.matrix.msc4190", "device_management", "msc4190",
)
"""Keys bridges write for Synapse's experimental features that Ganglion does not act on: accepted silently."""


def parse_appservices(top: Section, server_name: str, resolve: Callable[[str], str],
                      warnings: list[str]) -> AppServices:
    paths = top.texts("app_service_config_files", ())
    services = tuple(_read_file(resolve(path), server_name, warnings) for path in paths)
    _check_unique(services)
    _check_exclusive_overlap(services)
    return AppServices(services)


def _read_file(path: str, server_name: str, warnings: list[str]) -> AppService:
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as error:
        raise ConfigError(path, f"cannot read application service registration: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(path, f"is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(path, "an application service registration must be a mapping")
    try:
        return _parse(Section(data), data, path, server_name, warnings)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error.path}", error.reason) from None


def _parse(section: Section, data: dict[str, Any], path: str, server_name: str, warnings: list[str]) -> AppService:
    for key in ("id", "as_token", "hs_token", "sender_localpart"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ConfigError(section.path_of(key), "is required (a non-empty string)")
    if "url" not in data:
        raise ConfigError(section.path_of("url"), "is required (a URL, or null for no pushes)")
    url = section.text("url", None)
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConfigError(section.path_of("url"), "must start with http:// or https://")
    localpart = section.text("sender_localpart")
    try:
        check_new_localpart(localpart, server_name)
    except InvalidUsername as error:
        raise ConfigError(section.path_of("sender_localpart"), str(error)) from None
    ephemeral = section.flag("receive_ephemeral", None)
    if ephemeral is None:
        ephemeral = section.flag("de.sorunome.msc2409.push_ephemeral", None)
    if ephemeral is None:
        ephemeral = section.flag("push_ephemeral", False)
    for key in _EXTRA_KEYS:
        section.raw(key)
    service = AppService(
        id=section.text("id"), url=url.rstrip("/") if url else None, as_token=section.text("as_token"),
        hs_token=section.text("hs_token"), sender=f"@{localpart}:{server_name}",
        namespaces=_namespaces(section.section("namespaces")), rate_limited=section.flag("rate_limited", True),
        protocols=section.texts("protocols", ()), receive_ephemeral=bool(ephemeral),
        msc3202=section.flag("org.matrix.msc3202", False), source=path)
    warnings.extend(f"{path}: {key}: unknown key, ignored" for key in section.unknown_keys())
    return service


def _namespaces(section: Section) -> dict[str, tuple[Namespace, ...]]:
    found: dict[str, tuple[Namespace, ...]] = {}
    for kind in NAMESPACE_KINDS:
        entries = []
        for entry in section.sections(kind):
            regex = entry.text("regex")
            try:
                re.compile(regex)
            except re.error as error:
                raise ConfigError(entry.path_of("regex"), f"is not a valid regular expression: {error}") from None
            entries.append(Namespace(regex, entry.flag("exclusive")))
        found[kind] = tuple(entries)
    return found


def _check_unique(services: tuple[AppService, ...]) -> None:
    for field_name in ("id", "as_token"):
        seen: dict[str, str] = {}
        for service in services:
            value = getattr(service, field_name)
            if value in seen:
                raise ConfigError(f"{service.source}: {field_name}",
                                  f"is also used by the application service in {seen[value]}")
            seen[value] = service.source
    tokens = {service.as_token: service.source for service in services}
    for service in services:
        if service.hs_token in tokens:
            raise ConfigError(f"{service.source}: hs_token",
                              f"is the as_token of the application service in {tokens[service.hs_token]}")


def _check_exclusive_overlap(services: tuple[AppService, ...]) -> None:
    claimed: dict[tuple[str, str], AppService] = {}
    for service in services:
        for kind in NAMESPACE_KINDS:
            for namespace in service.namespaces.get(kind, ()):
                if not namespace.exclusive:
                    continue
                owner = claimed.get((kind, namespace.regex))
                if owner is not None and owner.id != service.id:
                    raise ConfigError(f"{service.source}: namespaces.{kind}",
                                      f"{namespace.regex!r} is claimed exclusively by {owner.id!r} "
                                      f"({owner.source}) too")
                claimed[(kind, namespace.regex)] = service
    for service in services:
        for other in services:
            if other.id != service.id and service.claims_exclusively(USERS, other.sender):
                raise ConfigError(f"{service.source}: namespaces.users",
                                  f"claims {other.sender} exclusively, the sender of {other.id!r} ({other.source})")

