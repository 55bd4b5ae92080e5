"""``ganglion shards show [FAMILY]``: every sharded family, or only the one named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ganglion.cli import main


@pytest.fixture
def config_path(tmp_path: Path) -> str:
    path = tmp_path / "homeserver.yaml"
    assert main(["generate-config", "--server-name", "example.org", "--config-path", str(path)]) == 0
    data = yaml.safe_load(path.read_text())
    data["stream_writers"] = {"events": ["persister1", "persister2"]}
    data["instance_map"] = {"persister1": {"host": "127.0.0.1", "port": 1},
                            "persister2": {"host": "127.0.0.1", "port": 2}}
    path.write_text(yaml.safe_dump(data))
    assert main(["migrate", "--config", str(path)]) == 0
    return str(path)


def test_show_with_a_family_prints_only_that_family(config_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["shards", "show", "events", "--config", config_path]) == 0
    assert capsys.readouterr().out.splitlines() == ["events: epoch 0 (config): persister1, persister2"]


def test_show_without_a_family_prints_every_sharded_family(config_path: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["shards", "show", "--config", config_path]) == 0
    families = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert "events" in families and "typing" in families


def test_show_of_an_unsharded_family_says_which_are(config_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shards", "show", "user_directory", "--config", config_path]) == 2
    assert "is not a sharded family" in capsys.readouterr().err
