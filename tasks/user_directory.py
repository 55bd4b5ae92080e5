"""The user directory updater (``update_user_directory_from_worker``): keeps one row per searchable user."""

from __future__ import annotations

from persistence.stores.user_directory import DirectoryEntry
from tasks.api import REFRESH_USER_DIRECTORY
from tasks.context import TaskContext
from tasks.registry import TaskSpec

FAMILY = "user_directory"


def refresh_user(context: TaskContext, *, user_id: str) -> bool:
    """Recompute ``user_id``'s entry from the account and profile; returns whether the user is listed."""
    stores = context.stores
    with context.database.write() as conn:
        items = stores.outbox.list_items(conn, FAMILY, user_id, lock=True)
        user = stores.users.get_user(conn, user_id)
        profile = stores.profiles.get_profile(conn, user_id)
        listed = user is not None and not user.deactivated and not user.is_guest and profile is not None
        if listed and profile is not None:
            entry = DirectoryEntry(user_id, profile.displayname, profile.avatar_url)
            stores.user_directory.upsert_entry(conn, entry, context.clock.now_ms())
        else:
            stores.user_directory.delete_entry(conn, user_id)
        stores.outbox.delete_items(conn, [item.id for item in items])
    return listed


TASKS = (TaskSpec(REFRESH_USER_DIRECTORY, family=FAMILY, body=refresh_user),)
