"""The commented ``homeserver.yaml`` that ``ganglion generate-config`` (and a first ``ganglion run``) writes."""

from __future__ import annotations

import secrets

TEMPLATE = """\
# Ganglion homeserver configuration. Keys and meanings follow Synapse's homeserver.yaml, so an existing
# Synapse config (and its worker files) can be used as they are.

# The domain in your users' ids (@alice:{server_name}). It cannot be changed later.
server_name: "{server_name}"

# The URL clients reach this server at (what /.well-known/matrix/client advertises).
public_baseurl: "http://{host}:{port}/"

# Where to listen. TLS belongs in the reverse proxy in front of Ganglion.
listeners:
  - port: {port}
    bind_addresses: ["{host}"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client, federation]

# The embedded default is SQLite. For the worker shape use PostgreSQL:
#   database:
#     name: psycopg2
#     args: {{user: synapse, password: secret, dbname: synapse, host: localhost, port: 5432, cp_min: 5, cp_max: 10}}
database:
  name: sqlite3
  args:
    database: "{data_dir}/homeserver.db"

# Redis is the Celery broker and the replication channel in the worker shape; the monolith does not need it.
redis:
  enabled: false
  host: localhost
  port: 6379
  # Ganglion: seconds before a task held by a killed worker is delivered again (longer than any task).
  # visibility_timeout: 60
  # Ganglion: seconds a request waits for its task before answering 503 (the task is then refused for good).
  # result_timeout: 30

# The server's ed25519 signing key (generated next to this file).
signing_key_path: "{data_dir}/{server_name_file}.signing.key"

# Python logging config (dictConfig YAML), as Synapse's log_config. Unset: log INFO to stderr.
# log_config: "{data_dir}/log.yaml"

# Registration. Open registration with no verification is for private test servers only.
enable_registration: false
enable_registration_without_verification: false
registration_requires_token: false
allow_guest_access: false

# Lets `ganglion register-user` (and Synapse's register_new_matrix_user) create accounts.
registration_shared_secret: "{shared_secret}"

# bcrypt cost for password hashes: each step doubles the work. 12 is Synapse's default.
bcrypt_rounds: 12

# Access tokens of clients that support refresh tokens expire after this long.
refreshable_access_token_lifetime: 5m

# Uploaded media (every process of a deployment must share this folder) and its limits, as Synapse's.
media_store_path: "{data_dir}/media_store"
max_upload_size: 50M
# Authenticated media (spec v1.11): media uploaded while this is on is not served by the legacy
# unauthenticated /_matrix/media download and thumbnail endpoints.
enable_authenticated_media: true
# dynamic_thumbnails: false       # true: thumbnails of any requested size, not only thumbnail_sizes
# media_retention: {{local_media_lifetime: 90d}}

# Self-destructing messages (MSC2228, as Synapse): a message whose content has org.matrix.self_destruct_after
# (a timestamp in ms) is pruned, for everyone and in the database, from that moment.
# enable_ephemeral_messages: false

# Presence (online, unavailable, offline), on by default; `enabled: false` switches it off. Synapse's timers:
# presence: {{enabled: true, idle_timeout: 5m, sync_online_timeout: 30s, last_active_granularity: 1m}}

# Rate limits (Synapse's defaults shown). Set per_second to 0 to switch one off.
rc_message: {{per_second: 0.2, burst_count: 10}}
rc_registration: {{per_second: 0.17, burst_count: 3}}
rc_login:
  address: {{per_second: 0.003, burst_count: 5}}
  account: {{per_second: 0.003, burst_count: 5}}
  failed_attempts: {{per_second: 0.17, burst_count: 3}}
#
# These defaults protect a public server, and they throttle a lone tester: a client's first session (log in,
# create rooms, send, set a profile, sign in on a second device) meets 429 M_LIMIT_EXCEEDED within minutes. For a
# private test server, reachable only by you, replace the block above with this one (and open sign-up with
# enable_registration: true and enable_registration_without_verification: true above):
#
# rc_message: {{per_second: 100, burst_count: 1000}}
# rc_registration: {{per_second: 10, burst_count: 100}}
# rc_login:
#   address: {{per_second: 10, burst_count: 100}}
#   account: {{per_second: 10, burst_count: 100}}
#   failed_attempts: {{per_second: 10, burst_count: 100}}
# rc_room_creation: {{per_second: 10, burst_count: 100}}
# rc_joins: {{local: {{per_second: 10, burst_count: 100}}, remote: {{per_second: 10, burst_count: 100}}}}
# rc_joins_per_room: {{per_second: 10, burst_count: 100}}
# rc_invites: {{per_room: {{per_second: 10, burst_count: 100}}, per_user: {{per_second: 10, burst_count: 100}},
#              per_issuer: {{per_second: 10, burst_count: 100}}}}
# rc_profile: {{per_second: 10, burst_count: 100}}
# rc_presence: {{per_user: {{per_second: 10, burst_count: 100}}}}
# rc_key_requests: {{per_second: 100, burst_count: 1000}}

# Application services (bridges, bots): one registration file each, in Synapse's format (README "Configuration").
# app_service_config_files: [/etc/ganglion/bridge.yaml]

# Missed-message emails to email pushers (Synapse's section; README "Configuration").
# email: {{enable_notifs: true, smtp_host: localhost, smtp_port: 25, notif_from: "%(app)s <noreply@example.org>",
#         app_name: Matrix, require_transport_security: false, notif_delay: 10m, notif_throttle: 10m}}

# --- Scaling out (see README "Scaling out"): the same keys as Synapse's workers.md ---
# instance_map: {{main: {{host: localhost, port: 9093}}}}
# stream_writers: {{events: [event_persister1, event_persister2]}}
# federation_sender_instances: [federation_sender1]
# send_federation: false   # with federation_sender_instances, as Synapse; false alone: no outbound federation
# outbound_federation_restricted_to: [federation_sender1]   # others hand their HTTP exchanges to the senders
# federation:              # outbound requests and the per-destination backoff (Synapse's defaults)
#   client_timeout: 60s
#   destination_min_retry_interval: 10m
#   destination_retry_multiplier: 2
#   destination_max_retry_interval: 7d
# pusher_instances: [pusher1]
# notify_appservices_from_worker: worker1
# appservice_instances: [appservice1, appservice2]   # Ganglion: instead, appservices sharded by id between them
# update_user_directory_from_worker: worker1
# run_background_tasks_on: background_worker
# worker_replication_secret: "..."
# Ganglion: while rotating worker_replication_secret, the old one, still accepted until the queues drained.
# worker_replication_previous_secret: "..."
"""


def render_homeserver_yaml(server_name: str, data_dir: str, *, host: str = "127.0.0.1", port: int = 8008,
                           shared_secret: str | None = None) -> str:
    return TEMPLATE.format(
        server_name=server_name,
        server_name_file=server_name.replace(":", "_"),
        data_dir=data_dir,
        host=host,
        port=port,
        shared_secret=shared_secret or secrets.token_urlsafe(32),
    )
