"""Worker keys that contradict each other stop the process at start, naming the YAML path and the reason; every
worker key of shared/seeds/workers.md is accepted."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from config import ConfigError, load_config, parse_config
from ganglion.logs import configure_logging

SHARED = {"server_name": "example.org", "redis": {"enabled": True},
          "database": {"name": "psycopg2", "args": {"dbname": "synapse"}}}
INSTANCE_MAP = {"main": {"host": "localhost", "port": 8030}, "persister1": {"host": "localhost", "port": 8034}}
HTTP = [{"port": 8083, "type": "http", "resources": [{"names": ["client", "federation"]}]}]


def _error(data: dict) -> ConfigError:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return caught.value


def test_every_worker_key_of_the_seed_doc_is_accepted_without_warnings() -> None:
    config = parse_config({
        **SHARED,
        "worker_app": "synapse.app.generic_worker",
        "worker_name": "persister1",
        "worker_listeners": [*HTTP, {"type": "metrics", "port": 9101, "bind_address": "127.0.0.1"}],
        "worker_log_config": "/etc/matrix/persister1.log.yaml",
        "instance_map": {**INSTANCE_MAP, "fed1": {"host": "localhost", "port": 8035},
                         "pusher1": {"path": "/run/pusher1.sock"}, "background1": {"host": "h", "port": 1},
                         "media1": {"host": "h", "port": 2}},
        "stream_writers": {"events": ["persister1"], "typing": "persister1"},
        "pusher_instances": ["pusher1"],
        "start_pushers": False,
        "federation_sender_instances": ["fed1"],
        "send_federation": False,
        "notify_appservices_from_worker": "background1",
        "update_user_directory_from_worker": "background1",
        "run_background_tasks_on": "background1",
        "media_instance_running_background_jobs": "media1",
        "enable_media_repo": False,
        "outbound_federation_restricted_to": ["fed1"],
        "worker_replication_secret": "secret",
        "enable_metrics": True,
    })
    assert config.warnings == ()
    workers = config.workers
    assert (workers.name, workers.log_config) == ("persister1", "/etc/matrix/persister1.log.yaml")
    assert workers.instance_map["pusher1"].path == "/run/pusher1.sock"
    assert config.metrics_listeners[0].port == 9101
    assert config.routing.queues_for_instance("persister1") == ("events.persister1", "typing.persister1")


@pytest.mark.parametrize(("extra", "path", "reason"), [
    ({"stream_writers": {"events": ["persister1", "persister2"]}}, "stream_writers.events",
     "'persister2' has this role but is missing from instance_map"),
    ({"federation_sender_instances": ["fed1"]}, "federation_sender_instances", "'fed1'"),
    ({"pusher_instances": ["pusher1"]}, "pusher_instances", "missing from instance_map"),
    ({"notify_appservices_from_worker": "as1"}, "notify_appservices_from_worker", "missing from instance_map"),
    ({"appservice_instances": ["persister1", "as2"]}, "appservice_instances", "'as2' has this role but is missing"),
    ({"update_user_directory_from_worker": "ud1"}, "update_user_directory_from_worker", "missing"),
    ({"run_background_tasks_on": "bg1"}, "run_background_tasks_on", "missing from instance_map"),
    ({"media_instance_running_background_jobs": "m1"}, "media_instance_running_background_jobs", "missing"),
])
def test_an_instance_with_a_role_must_be_in_the_instance_map(extra: dict, path: str, reason: str) -> None:  # type: ignore[type-arg]
    error = _error({**SHARED, "instance_map": INSTANCE_MAP, **extra})
    assert (error.path, reason in error.reason) == (path, True), error


def test_main_is_implicit_and_no_instance_map_means_no_check() -> None:
    assert parse_config({**SHARED, "instance_map": {"persister1": {"host": "h", "port": 1}},
                         "stream_writers": {"events": ["main", "persister1"]}})
    assert parse_config({**SHARED, "stream_writers": {"events": ["anyone"]}, "pusher_instances": ["p"]})


@pytest.mark.parametrize(("extra", "path", "reason"), [
    ({"run_background_tasks_on": ["bg1", "bg2"]}, "run_background_tasks_on", "only one instance may hold"),
    ({"update_user_directory_from_worker": ["u1", "u2"]}, "update_user_directory_from_worker", "only one"),
    ({"notify_appservices_from_worker": ["a1", "a2"]}, "notify_appservices_from_worker", "only one"),
    ({"media_instance_running_background_jobs": ["m1", "m2"]}, "media_instance_running_background_jobs",
     "only one"),
    ({"worker_app": "synapse.app.user_dir", "worker_name": "ud1", "update_user_directory_from_worker": "ud2"},
     "update_user_directory_from_worker", "makes 'ud1' claim the same single-instance role"),
    ({"worker_app": "synapse.app.appservice", "worker_name": "as1", "notify_appservices_from_worker": "as2"},
     "notify_appservices_from_worker", "claim the same single-instance role"),
])
def test_two_instances_cannot_claim_a_single_instance_role(extra: dict, path: str, reason: str) -> None:  # type: ignore[type-arg]
    error = _error({**SHARED, **extra})
    assert (error.path, reason in error.reason) == (path, True), error


@pytest.mark.parametrize(("extra", "path", "reason"), [
    ({"appservice_instances": ["as1", "as2"], "notify_appservices_from_worker": "as1"}, "appservice_instances",
     "and notify_appservices_from_worker are both set"),
    ({"appservice_instances": ["as1", "as1"]}, "appservice_instances", "lists an instance twice"),
    ({"appservice_instances": ["as1", "as2"], "worker_app": "synapse.app.appservice", "worker_name": "as3"},
     "worker_app", "appservice_instances does not list it"),
])
def test_appservice_instances_and_its_one_instance_form_do_not_mix(extra: dict, path: str, reason: str) -> None:  # type: ignore[type-arg]
    error = _error({**SHARED, **extra})
    assert (error.path, reason in error.reason) == (path, True), error


def test_a_legacy_appservice_app_listed_in_appservice_instances_takes_its_shard() -> None:
    config = parse_config({**SHARED, "appservice_instances": ["as1", "as2"], "worker_app": "synapse.app.appservice",
                           "worker_name": "as2"})
    assert config.routing.queues_for_instance("as2") == ("appservice.as2",)
    assert config.routing.instances("appservice") == ("as1", "as2")


def test_a_legacy_role_app_claims_its_role_for_itself() -> None:
    config = parse_config({**SHARED, "worker_app": "synapse.app.user_dir", "worker_name": "ud1"})
    assert config.routing.queues_for_instance("ud1") == ("user_directory",)
    assert any("historical name" in warning for warning in config.warnings)


def test_outbound_federation_must_be_restricted_to_exactly_the_senders() -> None:
    error = _error({**SHARED, "federation_sender_instances": ["fed1"],
                    "outbound_federation_restricted_to": ["fed1", "proxy1"]})
    assert error.path == "outbound_federation_restricted_to"
    assert "'proxy1' is not a federation sender" in error.reason
    error = _error({**SHARED, "federation_sender_instances": ["fed1", "fed2"],
                    "outbound_federation_restricted_to": ["fed1"]})
    assert "federation sender 'fed2' sends outbound federation but is not listed" in error.reason
    # Without federation_sender_instances, main sends: restricting to main is consistent.
    assert parse_config({**SHARED, "outbound_federation_restricted_to": ["main"]})


def test_a_worker_doing_nothing_is_an_error_naming_worker_name() -> None:
    error = _error({**SHARED, "worker_app": "synapse.app.generic_worker", "worker_name": "persister_1",
                    "stream_writers": {"events": ["persister1"]}})
    assert error.path == "worker_name"
    assert "'persister_1' consumes no queue and serves no HTTP listener" in error.reason
    # A metrics listener alone serves nothing of the homeserver.
    error = _error({**SHARED, "worker_app": "synapse.app.generic_worker", "worker_name": "idle",
                    "worker_listeners": [{"type": "metrics", "port": 9100}]})
    assert error.path == "worker_name"
    # Serving HTTP, or consuming a queue, is enough.
    assert parse_config({**SHARED, "worker_app": "synapse.app.generic_worker", "worker_name": "web1",
                         "worker_listeners": HTTP})
    assert parse_config({**SHARED, "worker_app": "synapse.app.generic_worker", "worker_name": "pusher1",
                         "pusher_instances": ["pusher1"]})


def test_the_media_repository_app_implies_the_media_repo_on_that_worker() -> None:
    media = parse_config({**SHARED, "enable_media_repo": False, "worker_app": "synapse.app.media_repository",
                          "worker_name": "media1", "worker_listeners": [
                              {"port": 8085, "resources": [{"names": ["media"]}]}]})
    assert media.workers.serves_media_repo is True
    assert parse_config({**SHARED, "enable_media_repo": False}).workers.serves_media_repo is False


def test_metrics_listeners_need_enable_metrics() -> None:
    listeners = [{"type": "metrics", "port": 9100}]
    assert parse_config({**SHARED, "listeners": listeners}).metrics_listeners == ()
    assert parse_config({**SHARED, "listeners": listeners, "enable_metrics": True}).metrics_listeners[0].port == 9100


def test_worker_log_config_is_applied_and_wins_over_log_config(tmp_path: Path) -> None:
    log_file = tmp_path / "worker.log"
    (tmp_path / "worker_log.yaml").write_text(yaml.safe_dump({
        "version": 1,
        "formatters": {"plain": {"format": "%(name)s %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": str(log_file), "formatter": "plain"}},
        "loggers": {"ganglion.test_worker_log": {"level": "INFO", "handlers": ["file"], "propagate": False}},
    }))
    shared = tmp_path / "homeserver.yaml"
    shared.write_text(yaml.safe_dump({**SHARED, "log_config": "missing.yaml"}))
    worker = tmp_path / "worker1.yaml"
    worker.write_text(yaml.safe_dump({"worker_app": "synapse.app.generic_worker", "worker_name": "web1",
                                      "worker_listeners": HTTP, "worker_log_config": "worker_log.yaml"}))
    config = load_config([str(shared), str(worker)])
    assert config.workers.log_config == str(tmp_path / "worker_log.yaml"), "relative to the shared file"
    logger = logging.getLogger("ganglion.test_worker_log")
    try:
        configure_logging(config)
        logger.info("hello from the worker")
        for handler in logger.handlers:
            handler.flush()
        assert "ganglion.test_worker_log hello from the worker" in log_file.read_text()
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
    with pytest.raises(ConfigError) as caught:
        configure_logging(load_config([str(shared)]))
    assert (caught.value.path, "cannot read" in caught.value.reason) == ("log_config", True)
