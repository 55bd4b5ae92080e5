"""Configuration: Synapse's vocabulary in, frozen values out, and errors that say where and why."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from config import ConfigError, load_config, parse_config
from config.routing import RoutingTable, shard_for

MINIMAL = {"server_name": "example.org"}


def test_defaults_make_a_sqlite_monolith() -> None:
    config = parse_config(MINIMAL, base_dir="/srv/matrix")
    assert config.database.is_sqlite
    assert config.database.url == "sqlite:////srv/matrix/homeserver.db"
    assert config.redis.enabled is False
    assert config.public_baseurl == "https://example.org/"
    assert config.workers.name == "main"
    assert config.ratelimits["rc_login.failed_attempts"].burst_count == 3
    assert config.passwords.bcrypt_rounds == 12


def test_postgres_and_redis_sections_become_urls() -> None:
    config = parse_config({**MINIMAL, "database": {"name": "psycopg2", "args": {
        "user": "synapse", "password": "p@ss", "dbname": "synapse", "host": "db", "port": 5433,
        "cp_min": 2, "cp_max": 7}}, "redis": {"enabled": True, "host": "cache", "dbid": 3}})
    assert config.database.url == "postgresql+psycopg2://synapse:p%40ss@db:5433/synapse"
    assert (config.database.pool_min, config.database.pool_max) == (2, 7)
    assert config.redis.url == "redis://cache:6379/3"
    assert config.redis.key_prefix == ""


def test_redis_key_prefix_reaches_broker_and_results() -> None:
    from config.routing import celery_settings

    config = parse_config({**MINIMAL, "redis": {"enabled": True, "key_prefix": "hs1:"}})
    settings = celery_settings("redis://x/0", "redis://x/0", config.redis.key_prefix)
    assert settings["broker_transport_options"]["global_keyprefix"] == "hs1:"
    assert settings["result_backend_transport_options"]["global_keyprefix"] == "hs1:"


def test_visibility_timeout_is_configurable_with_a_short_default() -> None:
    from config.routing import celery_settings

    default = parse_config({**MINIMAL, "redis": {"enabled": True}}).redis
    assert default.visibility_timeout == 60
    tuned = parse_config({**MINIMAL, "redis": {"enabled": True, "visibility_timeout": 15}}).redis
    settings = celery_settings("redis://x/0", "redis://x/0", visibility_timeout=tuned.visibility_timeout)
    assert settings["broker_transport_options"]["visibility_timeout"] == 15
    with pytest.raises(ConfigError, match=r"redis\.visibility_timeout"):
        parse_config({**MINIMAL, "redis": {"enabled": True, "visibility_timeout": 0}})


def test_the_web_tiers_wait_for_a_result_and_the_previous_replication_secret_are_configurable() -> None:
    default = parse_config({**MINIMAL, "redis": {"enabled": True}})
    assert (default.redis.result_timeout, default.workers.replication_previous_secret) == (30, None)
    tuned = parse_config({**MINIMAL, "redis": {"enabled": True, "result_timeout": 5},
                          "worker_replication_secret": "new", "worker_replication_previous_secret": "old"})
    assert (tuned.redis.result_timeout, tuned.workers.replication_previous_secret) == (5, "old")
    with pytest.raises(ConfigError, match=r"redis\.result_timeout"):
        parse_config({**MINIMAL, "redis": {"enabled": True, "result_timeout": 0}})


@pytest.mark.parametrize(
    ("data", "path", "reason"),
    [
        ({}, "server_name", "is required"),
        ({"server_name": "bad name!"}, "server_name", "not a valid Matrix server name"),
        ({**MINIMAL, "listeners": [{"port": "eighty"}]}, "listeners[0].port", "expected an integer"),
        ({**MINIMAL, "listeners": [{"port": 8008, "resources": [{"names": ["clients"]}]}]},
         "listeners[0].resources[0].names", "unknown resource"),
        ({**MINIMAL, "database": {"name": "mysql"}}, "database.name", "must be one of"),
        ({**MINIMAL, "database": {"name": "psycopg2", "args": {}}}, "database.args.dbname", "is required"),
        ({**MINIMAL, "rc_login": {"address": {"per_second": "fast"}}}, "rc_login.address.per_second",
         "expected a number"),
        ({**MINIMAL, "enable_registration": "yes"}, "enable_registration", "expected true or false"),
        ({**MINIMAL, "bcrypt_rounds": 2}, "bcrypt_rounds", "at least 4"),
        ({**MINIMAL, "stream_writers": {"evnts": ["w1"]}}, "stream_writers.evnts", "unknown stream"),
        ({**MINIMAL, "worker_app": "synapse.app.generic_worker"}, "worker_name", "is required"),
        ({**MINIMAL, "worker_app": "synapse.app.nonsense", "worker_name": "w"}, "worker_app", "unknown worker app"),
        ({**MINIMAL, "worker_app": "synapse.app.generic_worker", "worker_name": "w1"}, "database",
         "use psycopg2"),
        ({**MINIMAL, "refresh_token_lifetime": "soon"}, "refresh_token_lifetime", "expected a duration"),
    ],
)
def test_errors_name_the_yaml_path_and_the_reason(data: dict, path: str, reason: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert caught.value.path == path
    assert reason in caught.value.reason


def test_unknown_keys_are_reported_with_their_paths() -> None:
    config = parse_config({**MINIMAL, "frobnicate": 1, "database": {"name": "sqlite3", "args": {"databse": "x"}},
                           "report_stats": False})
    assert "frobnicate: unknown key, ignored" in config.warnings
    assert "database.args.databse: unknown key, ignored" in config.warnings
    # Keys of Synapse's own process model load silently.
    assert not any("report_stats" in warning for warning in config.warnings)


def test_durations_accept_synapse_syntax() -> None:
    config = parse_config({**MINIMAL, "refreshable_access_token_lifetime": "10m", "refresh_token_lifetime": 5000,
                           "session_lifetime": "1d"})
    assert config.sessions.refreshable_access_token_lifetime_ms == 600_000
    assert config.sessions.refresh_token_lifetime_ms == 5000
    assert config.sessions.session_lifetime_ms == 86_400_000


def test_later_files_override_earlier_ones_and_errors_name_the_file(tmp_path: Path) -> None:
    shared = tmp_path / "homeserver.yaml"
    shared.write_text(yaml.safe_dump({**MINIMAL, "enable_registration": False, "database": {
        "name": "psycopg2", "args": {"dbname": "synapse"}}, "redis": {"enabled": True}}))
    worker = tmp_path / "worker1.yaml"
    worker.write_text(yaml.safe_dump({"worker_app": "synapse.app.generic_worker", "worker_name": "worker1",
                                      "enable_registration": True, "registration_requires_token": True,
                                      "worker_listeners": [{"port": 8083, "type": "http",
                                                            "resources": [{"names": ["client"]}]}]}))
    config = load_config([str(shared), str(worker)])
    assert config.registration.enable_registration is True
    assert config.workers.name == "worker1"
    assert config.http_listeners[0].port == 8083

    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({"worker_listeners": [{"port": "x"}]}))
    with pytest.raises(ConfigError) as caught:
        load_config([str(shared), str(broken)])
    assert str(caught.value).startswith(f"{broken}: worker_listeners[0].port")


def test_unreadable_or_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config([str(tmp_path / "missing.yaml")])
    bad = tmp_path / "bad.yaml"
    bad.write_text("server_name: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config([str(bad)])


def test_deprecated_worker_keys_warn() -> None:
    config = parse_config({**MINIMAL, "worker_replication_host": "127.0.0.1", "worker_main_http_uri": "http://x"})
    assert any("worker_replication_host: deprecated" in warning for warning in config.warnings)
    assert any("worker_main_http_uri: deprecated" in warning for warning in config.warnings)


def test_monolith_routing_sends_everything_to_main() -> None:
    routing = parse_config(MINIMAL).routing
    assert routing.queue_for("events", "!room:example.org") == "events.main"
    assert routing.queue_for("user_directory", None) == "user_directory"
    assert set(routing.queues_for_instance("main")) == set(routing.all_queues())


def test_worker_keys_route_queues_per_instance() -> None:
    config = parse_config({
        **MINIMAL,
        "stream_writers": {"events": ["persister1", "persister2"], "typing": "writer", "device_lists": ["writer"]},
        "federation_sender_instances": ["fed1", "fed2"],
        "pusher_instances": ["pusher1"],
        "notify_appservices_from_worker": "appservice1",
        "update_user_directory_from_worker": "userdir1",
        "run_background_tasks_on": "background1",
        "media_instance_running_background_jobs": "media1",
    })
    routing: RoutingTable = config.routing
    assert routing.instances("events") == ("persister1", "persister2")
    assert routing.queues_for_instance("persister1") == ("events.persister1",)
    assert set(routing.queues_for_instance("writer")) == {"typing.writer", "device_lists.writer"}
    assert routing.queues_for_instance("userdir1") == ("user_directory",)
    assert routing.queues_for_instance("background1") == ("background",)
    assert routing.queues_for_instance("media1") == ("media",)
    assert routing.queues_for_instance("appservice1") == ("appservice.appservice1",)
    # main keeps the streams nobody else writes.
    assert "receipts.main" in routing.queues_for_instance("main")
    assert "events.main" not in routing.queues_for_instance("main")
    rooms = [f"!room{i}:example.org" for i in range(200)]
    queues = {routing.queue_for("events", room) for room in rooms}
    assert queues == {"events.persister1", "events.persister2"}
    assert all(routing.queue_for("events", room) == routing.queue_for("events", room) for room in rooms)


def test_appservice_instances_shard_appservices_by_id() -> None:
    routing = parse_config({**MINIMAL, "appservice_instances": ["as1", "as2"]}).routing
    assert routing.instances("appservice") == ("as1", "as2")
    assert routing.queues_for_instance("as1") == ("appservice.as1",)
    # Rendezvous hashing of the appservice id: the same answer in every process, and these two ids differ.
    assert routing.queue_for("appservice", "alpha") == "appservice.as2"
    assert routing.queue_for("appservice", "beta") == "appservice.as1"
    assert "appservice.main" not in routing.queues_for_instance("main")
    single = parse_config({**MINIMAL, "notify_appservices_from_worker": "as1"}).routing
    assert single.queue_for("appservice", "alpha") == single.queue_for("appservice", "beta") == "appservice.as1"
    assert parse_config(MINIMAL).routing.queue_for("appservice", "alpha") == "appservice.main"
    assert parse_config({**MINIMAL, "notify_appservices": False}).routing.queue_for("appservice", "alpha") is None


def test_disabled_families_route_nowhere() -> None:
    routing = parse_config({**MINIMAL, "send_federation": False, "start_pushers": False}).routing
    assert routing.queue_for("federation", "remote.example") is None
    assert routing.queue_for("push", "@a:example.org") is None


def test_shard_for_is_stable_across_processes() -> None:
    # CRC-32 of the key: the same answer in every process and every Python run.
    assert shard_for(("a", "b", "c"), "!abc:example.org") == shard_for(("a", "b", "c"), "!abc:example.org")
    assert shard_for(("only",), "anything") == "only"


def test_open_registration_without_any_check_must_be_asked_for() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({**MINIMAL, "enable_registration": True})
    assert caught.value.path == "enable_registration"
    assert parse_config({**MINIMAL, "enable_registration": True, "registration_requires_token": True})


def test_presence_is_on_with_synapse_timers_unless_disabled() -> None:
    presence = parse_config(MINIMAL).presence
    assert (presence.enabled, presence.tracked, presence.include_offline_users_on_sync) == (True, True, False)
    assert (presence.timers.sync_online_timeout_ms, presence.timers.idle_timeout_ms,
            presence.timers.last_active_granularity_ms) == (30_000, 300_000, 60_000)
    assert parse_config({**MINIMAL, "presence": {"enabled": False}}).presence.enabled is False
    assert parse_config({**MINIMAL, "use_presence": False}).presence.enabled is False, "Synapse's older key"
    assert parse_config({**MINIMAL, "use_presence": False, "presence": {"enabled": True}}).presence.enabled
    untracked = parse_config({**MINIMAL, "presence": {"enabled": "untracked"}}).presence
    assert (untracked.enabled, untracked.tracked) == (True, False)
    tuned = parse_config({**MINIMAL, "presence": {"idle_timeout": "10m", "sync_online_timeout": 45000,
                                                  "include_offline_users_on_sync": True}}).presence
    assert (tuned.timers.idle_timeout_ms, tuned.timers.sync_online_timeout_ms) == (600_000, 45_000)
    assert tuned.include_offline_users_on_sync is True


@pytest.mark.parametrize(("presence", "path", "reason"), [
    ({"enabled": "sometimes"}, "presence.enabled", "expected true, false or 'untracked'"),
    ({"idle_timeout": "30s"}, "presence.idle_timeout", "greater than last_active_granularity"),
    ({"sync_online_timeout": 0}, "presence.sync_online_timeout", "positive"),
    ({"include_offline_users_on_sync": "yes"}, "presence.include_offline_users_on_sync", "true or false"),
])
def test_bad_presence_settings_name_their_path(presence: dict, path: str, reason: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as caught:
        parse_config({**MINIMAL, "presence": presence})
    assert (caught.value.path, reason in caught.value.reason) == (path, True)


def test_unknown_presence_keys_are_reported() -> None:
    config = parse_config({**MINIMAL, "presence": {"enabled": True, "presence_router": {"module": "x"}}})
    assert "presence.presence_router: unknown key, ignored" in config.warnings


@pytest.mark.parametrize(("given", "expected"), [(None, "12"), ("10", "10"), (10, "10"), ("1", "1")])
def test_default_room_version_is_read_as_synapse_does(given: object, expected: str) -> None:
    data = MINIMAL if given is None else {**MINIMAL, "default_room_version": given}
    config = parse_config(data)
    assert config.default_room_version == expected
    assert not config.warnings


@pytest.mark.parametrize("given", ["13", "org.example.v1", True, [10]])
def test_an_unknown_default_room_version_is_a_config_error(given: object) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({**MINIMAL, "default_room_version": given})
    assert "default_room_version" in str(raised.value)


@pytest.mark.parametrize("insecure", [True, False])
def test_the_insecure_tls_switch_reaches_every_outbound_client_at_once(insecure: bool) -> None:
    config = parse_config({**MINIMAL, "use_insecure_ssl_client_just_for_testing_do_not_use": insecure})
    assert config.insecure_outbound_tls is insecure, "push gateways and application services"
    assert config.federation.verify_certificates is not insecure
    assert config.media.url_preview.verify_tls is not insecure
    assert not config.warnings, "the key is known, read once"


def test_the_insecure_tls_switch_must_be_a_boolean() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({**MINIMAL, "use_insecure_ssl_client_just_for_testing_do_not_use": "sometimes"})
    assert caught.value.path == "use_insecure_ssl_client_just_for_testing_do_not_use"
