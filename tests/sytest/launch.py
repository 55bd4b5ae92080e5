#!/usr/bin/env python3
"""Start one Ganglion homeserver for SyTest's Generic driver (plugins/generic).

SyTest runs this once per homeserver (server-0, server-1) with $SYTEST_HS_CONFIG pointing at a JSON file
(keys: see plugins/generic/lib/SyTest/Homeserver/Generic.pm). We write hs_dir/homeserver.yaml from it,
start Ganglion, and report "ready" by opening https_port, which is what the driver waits for.

TLS: Ganglion serves TLS itself on https_port (a `tls: true` listener with SyTest's tls_certificate_path /
tls_private_key_path) and trusts SyTest's CA (federation_ca_file, as federation_custom_ca_list) for outbound
federation. http_port is left unused: one gunicorn serves all of a process's listeners with TLS or none.
This copy of the kit's launcher lives in the project (tests/sytest/launch.py) since it changed the contract.

Shapes (GANGLION_SHAPE):
  monolith (default)  `ganglion run` (in-process tasks; SQLite, or PostgreSQL with --hs-db pg)
  workers             `ganglion migrate`, then `web --workers N` + `worker main` + `beat`. Needs PostgreSQL
                      (SyTest's server-N/database.yaml) and Redis on 127.0.0.1:6379, db GANGLION_REDIS_DB (6),
                      key prefix "sytest<N>:" (that prefix's keys are deleted at start).

SIGINT/SIGTERM stop every child's process group (SIGINT, then SIGKILL after 15 s); children also get
PR_SET_PDEATHSIG so a killed launcher leaks nothing. Logs: hs_dir/ganglion*.log.

Env: GANGLION (the `ganglion` executable; default: next to this python, else on PATH), GANGLION_SHAPE,
     GANGLION_WEB_WORKERS (2), GANGLION_REDIS_DB (6), GANGLION_EXTRA_CONFIG (a YAML file merged last),
     SYTEST_ROOM_VERSION (default room version, "10").
Run it with the Ganglion venv's python (it needs PyYAML, a Ganglion dependency).
"""
import contextlib
import ctypes
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request

import yaml

with open(os.environ["SYTEST_HS_CONFIG"]) as config_file:
    cfg = json.load(config_file)
d = cfg["hs_dir"]
idx = int(cfg.get("hs_index", 0))
host = cfg["bind_host"]
https_port = int(cfg["https_port"])
shape = os.environ.get("GANGLION_SHAPE", "monolith")
ganglion = os.environ.get("GANGLION") or os.path.join(os.path.dirname(sys.executable), "ganglion")
if not os.path.exists(ganglion):
    ganglion = shutil.which("ganglion") or "ganglion"

db = cfg["database"]
if db["type"] == "pg":
    args = dict(db["args"])
    if isinstance(args.get("port"), str):  # SyTest passes database.yaml values through as strings
        args["port"] = int(args["port"])
    if shape == "workers":
        args.update(cp_min=1, cp_max=10)
    database = {"name": "psycopg2", "args": args}
elif shape == "workers":
    sys.exit("launch.py: the workers shape needs PostgreSQL (run SyTest with --hs-db pg)")
else:
    database = {"name": "sqlite3", "args": {"database": db["args"]["database"]}}

# Rate limits: every bucket Ganglion knows (config/ratelimits.py), far beyond what SyTest needs.
rc = {"per_second": 10000, "burst_count": 100000}
flat = ["rc_message", "rc_registration", "rc_registration_token_validity", "rc_admin_redaction",
        "rc_joins_per_room", "rc_3pid_validation", "rc_third_party_invite", "rc_media_create",
        "rc_room_creation", "rc_profile", "rc_reports", "rc_delayed_event_mgmt", "rc_key_requests"]
nested = {"rc_login": ["address", "account", "failed_attempts"], "rc_joins": ["local", "remote"],
          "rc_invites": ["per_room", "per_user", "per_issuer"], "rc_presence": ["per_user"]}

conf = {
    "server_name": cfg["server_name"],
    "public_baseurl": cfg["public_baseurl"],
    "signing_key_path": f"{d}/signing.key",
    "listeners": [{
        "type": "http", "port": https_port, "bind_addresses": [host], "tls": True, "x_forwarded": False,
        "resources": [{"names": ["client", "federation"]}],
    }],
    "database": database,
    "enable_registration": True,
    "enable_registration_without_verification": True,
    "registration_shared_secret": cfg["registration_shared_secret"],
    "allow_guest_access": True,
    "bcrypt_rounds": 4,
    "serve_server_wellknown": False,
    "report_stats": False,
    "trusted_key_servers": [],
    "default_room_version": os.environ.get("SYTEST_ROOM_VERSION", "10"),
    "media_store_path": f"{d}/media_store",
    # As SyTest's own Synapse config: previews on, and its test server on loopback reachable (51media).
    "url_preview_enabled": True,
    "url_preview_ip_range_blacklist": [],
    "room_list_publication_rules": [{"action": "allow"}],
    "app_service_config_files": cfg.get("app_service_config_files", []),
    "tls_certificate_path": cfg["tls_certificate_path"],
    "tls_private_key_path": cfg["tls_private_key_path"],
    "federation_custom_ca_list": [cfg["federation_ca_file"]],
    # As Synapse is run under SyTest: SyTest's appservices and push gateway serve certificates of its own making.
    "use_insecure_ssl_client_just_for_testing_do_not_use": True,
    "ip_range_blacklist": [], "federation_ip_range_blacklist": [],
    "allow_public_rooms_over_federation": True,
    "allow_public_rooms_without_auth": True,
    "require_membership_for_aliases": False,
    "enable_ephemeral_messages": True,  # as SyTest's Synapse config (MSC2228)
    "rc_federation": {"window_size": 1000, "sleep_limit": 1000, "sleep_delay": 1, "reject_limit": 10000,
                      "concurrent": 100},
}
conf.update({name: dict(rc) for name in flat})
conf.update({name: {part: dict(rc) for part in parts} for name, parts in nested.items()})
if "smtp" in cfg:
    conf["email"] = {"smtp_host": cfg["smtp"]["host"], "smtp_port": cfg["smtp"]["port"],
                     "notif_from": "hs@localhost"}
if "recaptcha" in cfg:
    r = cfg["recaptcha"]
    conf.update(recaptcha_siteverify_api=r["siteverify_api"], recaptcha_public_key=r["public_key"],
                recaptcha_private_key=r["private_key"])
if "cas" in cfg:
    conf["cas_config"] = {"enabled": True, "server_url": cfg["cas"]["server_url"]}
redis_db = int(os.environ.get("GANGLION_REDIS_DB", "6"))
if shape == "workers":
    conf["redis"] = {"enabled": True, "host": "127.0.0.1", "port": 6379, "dbid": redis_db,
                     "key_prefix": f"sytest{idx}:"}

path = f"{d}/homeserver.yaml"
with open(path, "w") as f:
    yaml.safe_dump(conf, f, sort_keys=False)
config_args = ["--config", path]
if os.environ.get("GANGLION_EXTRA_CONFIG"):
    config_args += ["--config", os.environ["GANGLION_EXTRA_CONFIG"]]

_libc = ctypes.CDLL("libc.so.6", use_errno=True)
children = []


def log(msg):
    print(f"launch[{idx}]: {msg}", file=sys.stderr, flush=True)


def _child_setup():
    os.setsid()
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(argv, log_name):
    out = open(f"{d}/{log_name}", "ab")  # noqa: SIM115 - the child writes to it for its whole life
    proc = subprocess.Popen(argv, cwd=d, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_child_setup)
    children.append(proc)
    log(f"started pid {proc.pid}: {' '.join(argv)}")
    return proc


def stop(signum=None, frame=None):
    for proc in children:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
    deadline = time.time() + 15
    for proc in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.1, deadline - time.time()))
    for proc in children:  # whole groups: gunicorn workers, celery pools
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    sys.exit(0)


signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGTERM, stop)

if shape == "workers":
    subprocess.run(f"redis-cli -n {redis_db} --scan --pattern 'sytest{idx}:*' | xargs -r redis-cli -n {redis_db} DEL",
                   shell=True, stdout=subprocess.DEVNULL, check=False)
    subprocess.run([ganglion, "migrate", *config_args], cwd=d, check=True,
                   stdout=open(f"{d}/ganglion-migrate.log", "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115
    spawn([ganglion, "web", *config_args, "--workers", os.environ.get("GANGLION_WEB_WORKERS", "2")],
          "ganglion-web.log")
    spawn([ganglion, "worker", "main", *config_args], "ganglion-worker.log")
    spawn([ganglion, "beat", *config_args], "ganglion-beat.log")
else:
    spawn([ganglion, "run", *config_args], "ganglion.log")

# Wait until Ganglion answers over TLS (a readiness probe: no certificate check).
url = f"https://{host}:{https_port}/_matrix/client/versions"
insecure = ssl.create_default_context()
insecure.check_hostname = False
insecure.verify_mode = ssl.CERT_NONE
deadline = time.time() + 120
while True:
    if any(p.poll() is not None for p in children):
        log(f"a child exited during start-up; see {d}/ganglion*.log")
        stop()
    try:
        with urllib.request.urlopen(url, timeout=2, context=insecure) as resp:
            if resp.status == 200:
                break
    except Exception:
        pass
    if time.time() > deadline:
        log(f"no answer from {url} after 120 s")
        stop()
    time.sleep(0.2)

log(f"ready on https://{host}:{https_port}")

while True:
    for proc in children:
        if proc.poll() is not None:
            log(f"pid {proc.pid} exited with {proc.returncode}")
            stop()
    time.sleep(1)
