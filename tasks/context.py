"""What a task body may use: one frozen bundle per worker process, built by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from config import HomeserverConfig
from federation_client.client import FederationClient
from persistence.database import Database
from persistence.doorbell import Doorbell
from persistence.push_rules_cache import PushRulesCache
from persistence.single_flight import SingleFlight
from persistence.stores import Stores
from protocol.clock import Clock
from protocol.signing import SigningKey
from tasks.api import Dispatcher
from tasks.group_commit import GroupCommit
from tasks.resharding import ShardGuard

if TYPE_CHECKING:
    from tasks.ledger import TaskRun


@dataclass(frozen=True)
class TaskContext:
    config: HomeserverConfig
    database: Database
    stores: Stores
    doorbell: Doorbell
    clock: Clock
    dispatcher: Dispatcher
    """For follow-up pokes only: a task never waits on another task."""
    signing_key: SigningKey
    push_rules: PushRulesCache = field(default_factory=PushRulesCache)
    """Users' effective push rulesets, which the events writer evaluates for every member of a room."""
    shard_guard: ShardGuard | None = None
    """A Celery worker's check that a key is still its own and its old owners have drained (live resharding)."""
    federation_client: FederationClient | None = None
    """Signed requests to other servers: the federation senders (``tasks/federation/sender.py``), remote media;
    None in a process that never makes them."""
    single_flight: SingleFlight = field(default_factory=SingleFlight)
    """Work one key at a time: a remote file fetched once however many ask, one remote user's device list
    updated by one task at a time."""
    group_commit: GroupCommit = field(default_factory=GroupCommit)
    """The events writer's batches: client events handed over together are persisted in one transaction."""
    run: TaskRun | None = None
    """The message being run (``tasks/ledger.py``): set on the copy of the context a task body receives."""

    @property
    def instance_name(self) -> str:
        return self.config.workers.name
