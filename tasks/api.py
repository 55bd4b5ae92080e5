"""The only task module the web tier imports: the dispatcher interface and one function per kind of poke.

A poke names work by key after the change that needs it is committed (with an outbox row); it is cheap, may be
lost or repeated, and the task it starts is idempotent.
"""

from __future__ import annotations

from typing import Any, Protocol

DRAIN_DEVICE_LISTS = "device_lists.drain"
REFRESH_USER_DIRECTORY = "user_directory.refresh_user"


class Dispatcher(Protocol):
    def send(self, name: str, **kwargs: Any) -> None:
        """Queue a task and return at once. Failures to enqueue are logged; outbox sweeps recover them."""

    def call(self, name: str, *, timeout: float, **kwargs: Any) -> Any:
        """Run a task on its queue and wait for its result; a MatrixError it returned is raised here."""


def device_list_changed(dispatcher: Dispatcher, user_id: str) -> None:
    """A device of ``user_id`` was added, renamed or removed (the outbox row is already committed)."""
    dispatcher.send(DRAIN_DEVICE_LISTS, user_id=user_id)


def user_directory_changed(dispatcher: Dispatcher, user_id: str) -> None:
    """The profile or account state of ``user_id`` changed; its directory entry must follow."""
    dispatcher.send(REFRESH_USER_DIRECTORY, user_id=user_id)
