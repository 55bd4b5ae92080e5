"""The catalogue of tasks: name, queue family, shard key and body. A task name and its keyword arguments are a
wire format: rename nothing, add parameters last with defaults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TaskSpec:
    name: str
    family: str
    body: Callable[..., Any]
    shard_param: str | None = None
    """The keyword argument whose value picks the shard (room id, user id, destination)."""
    returns_result: bool = False
    """Whether a caller waits for the result; only then is a result stored in Redis."""
    runs_however_late: bool = False
    """Run even when older than the replay window (the ledger still runs it once): for a task whose effect only
    ever moves forward, such as a resharding fence, which a dead instance must still pass when it comes back."""

    batched: bool = False
    """Run together with the messages of the same task queued right behind it, committed as one transaction
    (``tasks/queue_drain.py``, ``tasks/group_commit.py``): only for a body whose writes go through the group
    commit, and whose effects outside the database follow its commit."""

    def shard_key(self, kwargs: dict[str, Any]) -> str | None:
        return None if self.shard_param is None else str(kwargs[self.shard_param])


def catalogue() -> dict[str, TaskSpec]:
    """Every task Ganglion defines, by name."""
    from tasks import (
        account_data,
        appservices,
        background,
        device_lists,
        email_pushers,
        event_expiry,
        events,
        media,
        member_profiles,
        presence,
        push_rules,
        pushers,
        receipts,
        remote_device_lists,
        remote_media,
        resharding,
        to_device,
        typing_notifications,
        url_previews,
        user_directory,
    )
    from tasks.federation import backfill, edus, fan_out, forwarding, receive, sender
    from tasks.federation import device_lists as federation_device_lists
    from tasks.federation import membership as federation_membership

    specs = (*device_lists.TASKS, *user_directory.TASKS, *background.TASKS, *events.TASKS, *account_data.TASKS,
             *to_device.TASKS, *member_profiles.TASKS, *typing_notifications.TASKS, *receipts.TASKS,
             *presence.TASKS, *push_rules.TASKS, *resharding.TASKS, *media.TASKS, *remote_media.TASKS,
             *remote_device_lists.TASKS, *url_previews.TASKS, *pushers.TASKS, *email_pushers.TASKS,
             *appservices.TASKS, *event_expiry.TASKS, *receive.TASKS, *backfill.TASKS, *federation_membership.TASKS,
             *fan_out.TASKS, *sender.TASKS, *forwarding.TASKS, *edus.TASKS,
             *federation_device_lists.TASKS)
    return {spec.name: spec for spec in specs}
