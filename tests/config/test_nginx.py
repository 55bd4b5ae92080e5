"""``ganglion routes --nginx``: every request reaches some web process without an endpoint list, and the seed's
affinities (sync by user, initial syncs apart, federation /send by origin, /messages by room) are consistent
hashes over the web processes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from config.nginx import NginxSite, render_nginx, web_server_addresses
from ganglion.cli import main

Block = list[tuple[str, list[str], "Block | None"]]


def parse_nginx(text: str) -> Block:
    """A small parser of nginx syntax: directives (name, args) and blocks (name, args, children)."""
    tokens = re.findall(r'"(?:[^"\\]|\\.)*"|[{};]|[^\s{};"]+', re.sub(r"#[^\n]*", "", text))
    position = 0

    def block() -> Block:
        nonlocal position
        items: Block = []
        words: list[str] = []
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token == ";":
                items.append((words[0], words[1:], None))
                words = []
            elif token == "{":
                items.append((words[0], words[1:], block()))
                words = []
            elif token == "}":
                assert not words, f"unterminated directive {words}"
                return items
            else:
                words.append(token)
        assert not words
        return items

    return block()


def _site(servers: tuple[str, ...], initial: int = 1) -> Block:
    return parse_nginx(render_nginx(NginxSite("example.org", "8008", servers, initial, 50 * 1024 * 1024)))


def _upstreams(parsed: Block) -> dict[str, Block]:
    return {args[0]: children or [] for name, args, children in parsed if name == "upstream"}


def _locations(parsed: Block) -> dict[str, str]:
    server = next(children for name, _args, children in parsed if name == "server")
    assert server is not None
    return {" ".join(args): next(a for n, a, _c in children or [] if n == "proxy_pass")[0]
            for name, args, children in server if name == "location"}


def test_everything_reaches_any_web_process_and_the_affinities_are_consistent_hashes() -> None:
    parsed = _site(("127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083"))
    upstreams = _upstreams(parsed)
    servers = {name: [args[0] for n, args, _c in body if n == "server"] for name, body in upstreams.items()}
    assert servers["ganglion_any"] == ["127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083"]
    assert servers["ganglion_sync"] == ["127.0.0.1:8081", "127.0.0.1:8082"]
    assert servers["ganglion_initial_sync"] == ["127.0.0.1:8083"], "initial syncs on a pool of their own"
    balancing = {name: next(args for n, args, _c in body if n in ("hash", "least_conn")) for name, body in
                 upstreams.items()}
    assert balancing["ganglion_sync"] == ["$ganglion_access_token", "consistent"]
    assert balancing["ganglion_initial_sync"] == ["$ganglion_access_token", "consistent"]
    assert balancing["ganglion_federation_send"] == ["$ganglion_origin", "consistent"]
    assert balancing["ganglion_rooms"] == ["$ganglion_room", "consistent"]

    locations = _locations(parsed)
    assert locations["/"] == "http://ganglion_any", "no endpoint list needed for correctness"
    assert locations["~ ^/_matrix/client/(r0|v3)/sync$"] == "http://$ganglion_sync_pool"
    assert locations["~ ^/_matrix/federation/v1/send/"] == "http://ganglion_federation_send"
    messages = next(pattern for pattern in locations if pattern.endswith("/messages$"))
    assert "(?<ganglion_room>[^/]+)" in messages and locations[messages] == "http://ganglion_rooms"

    maps = {args[1]: children for name, args, children in parsed if name == "map"}
    since = {name: args for name, args, _c in maps["$ganglion_sync_pool"] or []}
    assert since == {"default": ["ganglion_sync"], '""': ["ganglion_initial_sync"]}
    token = [(name, args) for name, args, _c in maps["$ganglion_access_token"] or []]
    assert ("default", ["$arg_access_token"]) in token, "the access_token query parameter when no header"
    assert any("Bearer" in name for name, _args in token)
    assert any("origin=" in name for name, _args, _c in maps["$ganglion_origin"] or [])


def test_the_token_and_origin_patterns_pick_what_nginx_would_hash() -> None:
    parsed = _site(("127.0.0.1:8081",))
    maps = {args[1]: children for name, args, children in parsed if name == "map"}

    def pattern(variable: str) -> re.Pattern[str]:
        raw = next(name for name, _a, _c in maps[variable] or [] if name.startswith('"~*'))
        return re.compile(raw[3:-1].replace('\\"', '"').replace("(?<", "(?P<"), re.IGNORECASE)

    assert pattern("$ganglion_access_token").match("Bearer syt_abc_123").group("token") == "syt_abc_123"
    header = 'X-Matrix origin="remote.example",destination="example.org",key="ed25519:1",sig="x"'
    assert pattern("$ganglion_origin").search(header).group("origin") == "remote.example"
    assert pattern("$ganglion_origin").search("X-Matrix origin=bare.example,key=k").group("origin") == "bare.example"


def test_one_web_process_serves_every_pool() -> None:
    servers = {name: [args[0] for n, args, _c in body if n == "server"]
               for name, body in _upstreams(_site(("unix:/run/web.sock",), initial=1)).items()}
    assert all(found == ["unix:/run/web.sock"] for found in servers.values())


def test_wildcard_binds_are_reached_on_loopback() -> None:
    assert web_server_addresses(["0.0.0.0:8081", "[::]:8082", "10.0.0.5:8083", "unix:/s", "0.0.0.0:8081"]) == (
        "127.0.0.1:8081", "[::1]:8082", "10.0.0.5:8083", "unix:/s")


def test_the_command_reads_each_web_process_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shared = tmp_path / "homeserver.yaml"
    shared.write_text(yaml.safe_dump({"server_name": "example.org", "redis": {"enabled": True},
                                      "database": {"name": "psycopg2", "args": {"dbname": "x"}}}))
    web_files = []
    for index, port in enumerate((8081, 8082)):
        path = tmp_path / f"web{index}.yaml"
        path.write_text(yaml.safe_dump({
            "worker_app": "synapse.app.generic_worker", "worker_name": f"web{index}",
            "worker_listeners": [{"port": port, "type": "http", "resources": [{"names": ["client", "federation"]}]},
                                 {"port": 9100 + index, "type": "metrics"}]}))
        web_files += ["--web", str(path)]
    output = tmp_path / "ganglion.conf"
    assert main(["routes", "--nginx", "--config", str(shared), *web_files, "--listen", "127.0.0.1:8448",
                 "-o", str(output)]) == 0
    parsed = parse_nginx(output.read_text())
    servers = {name: [args[0] for n, args, _c in body if n == "server"] for name, body in _upstreams(parsed).items()}
    assert servers["ganglion_any"] == ["127.0.0.1:8081", "127.0.0.1:8082"], "metrics listeners are not routed"
    server = next(children for name, _a, children in parsed if name == "server") or []
    assert ("listen", ["127.0.0.1:8448"]) in [(name, args) for name, args, _c in server]

    assert main(["routes", "--config", str(shared)]) == 0
    assert "main: events.main" in capsys.readouterr().out

    if shutil.which("nginx"):
        wrapper = tmp_path / "nginx.conf"
        wrapper.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
                           f"http {{\n    access_log off;\n    include {output};\n}}\n")
        result = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-c", str(wrapper)], capture_output=True,
                                text=True, check=False)
        assert result.returncode == 0, result.stderr


def _media_location_bodies(parsed: Block) -> dict[str, dict[str, list[str]]]:
    server = next(children for name, _args, children in parsed if name == "server") or []
    return {" ".join(args): {n: a for n, a, _c in children or []} for name, args, children in server
            if name == "location" and "media" in " ".join(args)}


def test_media_goes_to_the_media_repository_workers_with_the_upload_limit(tmp_path: Path) -> None:
    shared = tmp_path / "homeserver.yaml"
    shared.write_text(yaml.safe_dump({"server_name": "example.org", "redis": {"enabled": True},
                                      "enable_media_repo": False, "max_upload_size": "100M",
                                      "database": {"name": "psycopg2", "args": {"dbname": "x"}}}))
    web = tmp_path / "web1.yaml"
    web.write_text(yaml.safe_dump({"worker_app": "synapse.app.generic_worker", "worker_name": "web1",
                                   "worker_listeners": [{"port": 8081, "type": "http",
                                                         "resources": [{"names": ["client", "federation"]}]}]}))
    media = tmp_path / "media1.yaml"
    media.write_text(yaml.safe_dump({"worker_app": "synapse.app.media_repository", "worker_name": "media1",
                                     "worker_listeners": [{"port": 8085, "type": "http",
                                                           "resources": [{"names": ["media"]}]}]}))
    output = tmp_path / "ganglion.conf"
    assert main(["routes", "--nginx", "--config", str(shared), "--web", str(web), "--web", str(media),
                 "-o", str(output)]) == 0
    parsed = parse_nginx(output.read_text())
    servers = {name: [args[0] for n, args, _c in body if n == "server"] for name, body in _upstreams(parsed).items()}
    assert servers["ganglion_any"] == ["127.0.0.1:8081"], "the media worker takes no other traffic"
    assert servers["ganglion_media"] == ["127.0.0.1:8085"]
    locations = _media_location_bodies(parsed)
    assert set(locations) == {"~ ^/_matrix/media/", "~ ^/_matrix/client/v1/media/",
                              "~ ^/_matrix/federation/v1/media/",
                              "~ ^/_synapse/admin/v1/(purge_media_cache|media/|quarantine_media/"
                              "|room/[^/]+/media|users?/[^/]+/media)"}
    for body in locations.values():
        assert body["proxy_pass"] == ["http://ganglion_media"]
        assert body["client_max_body_size"] == [str(100 * 1024 * 1024)]
        assert body["proxy_request_buffering"] == ["off"]
    assert main(["routes", "--nginx", "--config", str(shared), "--web", str(web), "-o", str(output)]) == 2, \
        "media switched off on main and no media worker: refused"


def test_without_media_workers_any_web_process_serves_media() -> None:
    servers = {name: [args[0] for n, args, _c in body if n == "server"]
               for name, body in _upstreams(_site(("127.0.0.1:8081", "127.0.0.1:8082"))).items()}
    assert servers["ganglion_media"] == ["127.0.0.1:8081", "127.0.0.1:8082"]
