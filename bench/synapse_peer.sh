#!/usr/bin/env bash
# A real Synapse, installed from PyPI, listening on 127.0.0.1 only: the peer the benchmarks measure Ganglion against
# on the same machine in the same session (bench/README.md).
#
#   bench/synapse_peer.sh DIR [PORT] [sqlite|postgres]    # prints the server's PID once it answers; stop: kill PID
#
# Everything goes under DIR: a venv (DIR/venv, or $SYNAPSE_VENV to share one between peers), the config, the
# signing key, the SQLite database, media and logs. `postgres` uses the PostgreSQL on 127.0.0.1:5432 as user
# postgres (no password, or $PGPASSWORD) and a database synapse_bench_PORT, created when missing.
# Rate limits are lifted so a benchmark measures the server, not its limiter; bcrypt_rounds stays at Synapse's
# default of 12, as `ganglion generate-config` writes, so password hashing costs the same on both sides
# ($BCRYPT_ROUNDS overrides it for benchmarks that only register accounts to set up, e.g. bench.wake).
set -euo pipefail

usage() { sed -n '5p' "$0" | sed 's/^# *//' >&2; exit 2; }
[ $# -ge 1 ] || usage
mkdir -p "$1"
home=$(cd "$1" && pwd)
port=${2:-18118}
database=${3:-sqlite}
venv=${SYNAPSE_VENV:-$home/venv}
case "$database" in sqlite|postgres) ;; *) usage ;; esac

install_synapse() {
  if "$venv/bin/python" -c 'import synapse' 2>/dev/null; then return; fi
  echo "installing matrix-synapse into $venv (first use only)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "matrix-synapse[postgres]" >&2
}

database_section() {
  if [ "$database" = sqlite ]; then
    echo "database: {name: sqlite3, args: {database: $home/homeserver.db}}"
    return
  fi
  local name=synapse_bench_$port
  if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'" \
      | grep -q 1; then
    # Synapse refuses a database whose collation is not C.
    psql -h 127.0.0.1 -U postgres -d postgres -qc \
      "CREATE DATABASE $name ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
  fi
  echo "database: {name: psycopg2, args: {user: postgres, dbname: $name, host: 127.0.0.1, port: 5432," \
       "cp_min: 5, cp_max: 10}}"
}

write_config() {
  local unlimited='{per_second: 100000, burst_count: 100000}'
  cat > "$home/homeserver.yaml" <<YAML
server_name: "localhost:$port"
report_stats: false
$(database_section)
listeners:
  - port: $port
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    resources: [{names: [client, federation], compress: false}]
pid_file: $home/homeserver.pid
signing_key_path: $home/signing.key
media_store_path: $home/media
log_config: $home/log.yaml
registration_shared_secret: "bench-peer-shared-secret"
macaroon_secret_key: "bench-peer-macaroon-secret"
form_secret: "bench-peer-form-secret"
enable_registration: true
enable_registration_without_verification: true
trusted_key_servers: []
suppress_key_server_warning: true
url_preview_enabled: false
presence: {enabled: true}
user_directory: {enabled: true, search_all_users: true}
room_list_publication_rules: [{user_id: "*", alias: "*", room_id: "*", action: allow}]
alias_creation_rules: [{user_id: "*", alias: "*", room_id: "*", action: allow}]
bcrypt_rounds: ${BCRYPT_ROUNDS:-12}
rc_message: $unlimited
rc_registration: $unlimited
rc_login: {address: $unlimited, account: $unlimited, failed_attempts: $unlimited}
rc_room_creation: $unlimited
rc_joins: {local: $unlimited, remote: $unlimited}
rc_joins_per_room: $unlimited
rc_invites: {per_room: $unlimited, per_user: $unlimited, per_issuer: $unlimited}
rc_profile: $unlimited
rc_presence: {per_user: $unlimited}
rc_media_create: $unlimited
rc_key_requests: $unlimited
YAML
  cat > "$home/log.yaml" <<YAML
version: 1
formatters: {plain: {format: '%(asctime)s %(levelname)s %(name)s %(message)s'}}
handlers: {file: {class: logging.FileHandler, filename: $home/homeserver.log, formatter: plain}}
root: {level: WARNING, handlers: [file]}
disable_existing_loggers: false
YAML
}

answers() {
  "$venv/bin/python" - "$port" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/_matrix/client/versions", timeout=2)
except OSError:
    sys.exit(1)
PY
}

install_synapse
[ -f "$home/signing.key" ] || "$venv/bin/generate_signing_key" -o "$home/signing.key"
write_config
"$venv/bin/python" -m synapse.app.homeserver --config-path "$home/homeserver.yaml" >"$home/stdout.log" 2>&1 &
server=$!
for _ in $(seq 1 90); do
  if answers; then echo "$server"; exit 0; fi
  if ! kill -0 "$server" 2>/dev/null; then break; fi
  sleep 1
done
echo "Synapse did not answer on 127.0.0.1:$port; its output is in $home/stdout.log and $home/homeserver.log" >&2
kill "$server" 2>/dev/null || true
exit 1
