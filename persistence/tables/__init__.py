"""The schema as SQLAlchemy Core tables, one module per domain: the single source the migrations are checked against.

Timestamps are milliseconds since the epoch (as everywhere in Matrix). Secrets (access, refresh tokens) are
stored as SHA-256 digests only.
"""

from __future__ import annotations

from persistence.tables.accounts import (
    access_tokens,
    admin_register_nonces,
    devices,
    erased_users,
    profiles,
    refresh_tokens,
    registration_tokens,
    ui_auth_sessions,
    users,
)
from persistence.tables.appservices import appservice_room_list, appservice_states
from persistence.tables.e2e import (
    dehydrated_devices,
    e2e_cross_signing_keys,
    e2e_cross_signing_signatures,
    e2e_device_keys,
    e2e_fallback_keys,
    e2e_one_time_keys,
    room_key_backup_keys,
    room_key_backup_versions,
)
from persistence.tables.ephemeral import presence, receipts, typing
from persistence.tables.expiry import event_expiry
from persistence.tables.federation import received_transactions, server_keys
from persistence.tables.federation_queries import (
    openid_tokens,
    remote_device_lists,
    remote_devices,
    remote_media_cache,
    remote_media_thumbnails,
)
from persistence.tables.federation_sending import (
    federation_destination_rooms,
    federation_destinations,
    federation_outbound_queue,
    federation_transactions,
)
from persistence.tables.media import local_media, local_media_thumbnails
from persistence.tables.metadata import metadata
from persistence.tables.processed_tasks import processed_tasks
from persistence.tables.push import event_push_actions, push_rule_defaults, push_rules, push_rules_changes
from persistence.tables.pushers import email_throttles, pushers
from persistence.tables.rooms import (
    current_state_events,
    event_auth,
    event_edges,
    event_forward_extremities,
    event_relations,
    event_reports,
    event_search,
    event_state_groups,
    event_txn_ids,
    events,
    forgotten_rooms,
    redactions,
    room_aliases,
    room_directory,
    rooms,
    state_group_entries,
    state_groups,
)
from persistence.tables.sharding import shard_fences, shard_maps
from persistence.tables.sliding_sync import room_bump_stamps, sliding_sync_connections, sliding_sync_positions
from persistence.tables.streams import device_lists_stream, outbox, stream_counters, stream_positions, user_directory
from persistence.tables.sync import account_data, device_inbox, sync_sent_members, to_device_txns, user_filters

__all__ = [
    "access_tokens",
    "account_data",
    "admin_register_nonces",
    "appservice_room_list",
    "appservice_states",
    "current_state_events",
    "dehydrated_devices",
    "device_inbox",
    "device_lists_stream",
    "devices",
    "e2e_cross_signing_keys",
    "e2e_cross_signing_signatures",
    "e2e_device_keys",
    "e2e_fallback_keys",
    "e2e_one_time_keys",
    "email_throttles",
    "erased_users",
    "event_auth",
    "event_edges",
    "event_expiry",
    "event_forward_extremities",
    "event_push_actions",
    "event_relations",
    "event_reports",
    "event_search",
    "event_state_groups",
    "event_txn_ids",
    "events",
    "federation_destination_rooms",
    "federation_destinations",
    "federation_outbound_queue",
    "federation_transactions",
    "forgotten_rooms",
    "local_media",
    "local_media_thumbnails",
    "metadata",
    "openid_tokens",
    "outbox",
    "presence",
    "processed_tasks",
    "profiles",
    "push_rule_defaults",
    "push_rules",
    "push_rules_changes",
    "pushers",
    "receipts",
    "received_transactions",
    "redactions",
    "refresh_tokens",
    "registration_tokens",
    "remote_device_lists",
    "remote_devices",
    "remote_media_cache",
    "remote_media_thumbnails",
    "room_aliases",
    "room_bump_stamps",
    "room_directory",
    "room_key_backup_keys",
    "room_key_backup_versions",
    "rooms",
    "server_keys",
    "shard_fences",
    "shard_maps",
    "sliding_sync_connections",
    "sliding_sync_positions",
    "state_group_entries",
    "state_groups",
    "stream_counters",
    "stream_positions",
    "sync_sent_members",
    "to_device_txns",
    "typing",
    "ui_auth_sessions",
    "user_directory",
    "user_filters",
    "users",
]
