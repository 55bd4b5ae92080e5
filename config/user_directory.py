"""``user_directory``: who ``/user_directory/search`` may find (Synapse's keys and defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from config.reader import Section


@dataclass(frozen=True)
class UserDirectoryConfig:
    enabled: bool = True
    search_all_users: bool = False
    """Every local user, not only those sharing a room with the searcher or sitting in a public room."""
    prefer_local_users: bool = False


def parse_user_directory(top: Section) -> UserDirectoryConfig:
    section = top.section("user_directory")
    return UserDirectoryConfig(
        enabled=section.flag("enabled", True),
        search_all_users=section.flag("search_all_users", False),
        prefer_local_users=section.flag("prefer_local_users", False),
    )
