"""The ``ganglion`` command: config generation, migrations, and failing early on bad config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from config import load_config
from ganglion.cli import main
from ganglion.next_steps import client_url
from persistence import migrate
from persistence.database import Database


def test_generate_config_writes_a_loadable_config_and_key(tmp_path: Path) -> None:
    path = tmp_path / "homeserver.yaml"
    assert main(["generate-config", "--server-name", "example.org", "--config-path", str(path)]) == 0
    config = load_config([str(path)])
    assert config.server_name == "example.org"
    assert config.warnings == ()
    assert config.database.url == f"sqlite:///{tmp_path}/homeserver.db"
    assert Path(config.signing_key_path).read_text().startswith("ed25519 a_")
    assert config.registration.registration_shared_secret
    assert main(["generate-config", "--server-name", "example.org", "--config-path", str(path)]) == 1


def test_migrate_brings_a_new_database_to_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "homeserver.yaml"
    main(["generate-config", "--server-name", "example.org", "--config-path", str(path)])
    assert main(["migrate", "--config", str(path)]) == 0
    database = Database(load_config([str(path)]).database)
    assert migrate.current_revision(database) == migrate.head_revision()
    database.dispose()
    assert "schema revision" in capsys.readouterr().out


def test_a_bad_config_stops_with_its_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "homeserver.yaml"
    path.write_text(yaml.safe_dump({"server_name": "example.org", "listeners": [{"port": "http"}]}))
    assert main(["migrate", "--config", str(path)]) == 2
    assert "listeners[0].port: expected an integer" in capsys.readouterr().err


def test_unknown_keys_are_reported_at_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "homeserver.yaml"
    main(["generate-config", "--server-name", "example.org", "--config-path", str(path)])
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "enable_registraton": True}))
    capsys.readouterr()
    assert main(["migrate", "--config", str(path)]) == 0
    assert "enable_registraton: unknown key" in capsys.readouterr().err


def test_worker_for_an_instance_without_queues_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "homeserver.yaml"
    path.write_text(yaml.safe_dump({"server_name": "example.org", "redis": {"enabled": True},
                                    "database": {"name": "psycopg2", "args": {"dbname": "unused"}}}))
    assert main(["worker", "idle_worker", "--config", str(path)]) == 2
    assert "consumes no queue" in capsys.readouterr().err


def test_the_first_run_message_names_the_scheme_the_listener_serves(tmp_path: Path) -> None:
    path = tmp_path / "homeserver.yaml"
    main(["generate-config", "--server-name", "example.org", "--config-path", str(path), "--port", "8448"])
    assert client_url(load_config([str(path)])) == "http://127.0.0.1:8448"
    data = yaml.safe_load(path.read_text())
    for listener in data["listeners"]:
        listener["tls"] = True
    (tmp_path / "cert.pem").write_text("")
    (tmp_path / "key.pem").write_text("")
    data.update(tls_certificate_path=str(tmp_path / "cert.pem"), tls_private_key_path=str(tmp_path / "key.pem"))
    path.write_text(yaml.safe_dump(data))
    assert client_url(load_config([str(path)])) == "https://127.0.0.1:8448"
