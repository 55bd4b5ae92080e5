"""The one bundle of dependencies a web process gives its views (DESIGN.md: explicit, frozen, no locator)."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

from config import HomeserverConfig
from federation_client.services import Federation
from persistence.database import Database
from persistence.doorbell import Doorbell
from persistence.media.thumbnails import SourceImages
from persistence.push_rules_cache import PushRulesCache
from persistence.ratelimit import Buckets
from persistence.stores import Stores
from persistence.token_revocations import LocalTokenRevocations, TokenRevocations
from protocol.clock import Clock
from protocol.signing import SigningKey
from tasks.api import Dispatcher
from web.last_seen import LastSeenRecorder
from web.remote.profiles import RemoteProfileCache
from web.sync.notifier import SyncNotifier
from web.token_cache import TokenCache


@dataclass(frozen=True)
class Deps:
    config: HomeserverConfig
    database: Database
    stores: Stores
    dispatcher: Dispatcher
    doorbell: Doorbell
    clock: Clock
    buckets: Buckets
    token_cache: TokenCache
    signing_key: SigningKey
    """The server's ed25519 key: published at ``/_matrix/key/v2/server``, signs what the web tier answers."""
    federation: Federation
    """Outbound server-to-server requests and the remote key cache (inbound request authentication uses it)."""
    last_seen: LastSeenRecorder = field(default_factory=LastSeenRecorder)
    notifier: SyncNotifier = field(default_factory=SyncNotifier)
    """This process's waiting ``/sync`` requests, woken by the doorbell."""
    push_rules: PushRulesCache = field(default_factory=PushRulesCache)
    """Users' effective push rulesets (shared with the task context in the monolith)."""
    revocations: TokenRevocations = field(default_factory=LocalTokenRevocations)
    """Which cached token lookups this process may trust (``persistence/token_revocations.py``)."""
    remote_profiles: RemoteProfileCache = field(default_factory=RemoteProfileCache)
    """Other servers' answers to profile queries, kept a minute (``web/remote/profiles.py``)."""
    source_images: SourceImages = field(default_factory=SourceImages)
    """Local images' sizes, so serving a thumbnail already made does not read the original again."""


_KEY = "ganglion.deps"


def install_deps(app: object, deps: Deps) -> None:
    app.extensions[_KEY] = deps  # type: ignore[attr-defined]


def installed_deps(app: object) -> Deps | None:
    """What :func:`install_deps` gave ``app`` (None for anything else), for code outside a request."""
    extensions = getattr(app, "extensions", None)
    found = extensions.get(_KEY) if isinstance(extensions, dict) else None
    return found if isinstance(found, Deps) else None


def deps() -> Deps:
    """The running application's dependencies, for views."""
    return current_app.extensions[_KEY]  # type: ignore[no-any-return]
