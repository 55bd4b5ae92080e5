"""``ganglion routes --metrics``: a Prometheus scrape config derived from the deployment's own files, so no other
file repeats a metrics port."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ganglion.cli import main

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_the_scrape_config_lists_each_process_of_the_deployment(capsys: pytest.CaptureFixture[str]) -> None:
    workers = sorted(DEPLOY.glob("workers/*.yaml"))
    arguments = [item for path in workers for item in ("--worker", str(path))]
    assert main(["routes", "--metrics", "--config", str(DEPLOY / "homeserver.yaml"), *arguments]) == 0
    scrape = yaml.safe_load(capsys.readouterr().out)["scrape_configs"][0]["static_configs"]
    expected = {}
    for path in workers:
        data = yaml.safe_load(path.read_text())
        metrics = next(listener for listener in data["worker_listeners"] if listener["type"] == "metrics")
        expected[data["worker_name"]] = [f"{metrics['bind_address']}:{metrics['port']}"]
    assert {entry["labels"]["instance_name"]: entry["targets"] for entry in scrape} == expected


def test_without_metrics_listeners_it_says_which_key_to_set(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "homeserver.yaml"
    path.write_text(yaml.safe_dump({"server_name": "example.org"}))
    assert main(["routes", "--metrics", "--config", str(path)]) == 2
    assert "enable_metrics" in capsys.readouterr().err
