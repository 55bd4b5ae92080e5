"""``ganglion celery -- ARGS``: Celery's own command line on the config's broker, so commands such as Flower's never
repeat a Redis host, port or database by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml


def test_celery_commands_use_the_configured_redis_database(tmp_path: Path) -> None:
    path = tmp_path / "homeserver.yaml"
    path.write_text(yaml.safe_dump({"server_name": "example.org", "registration_shared_secret": "s",
                                    "redis": {"enabled": True, "host": "127.0.0.1", "port": 6379, "dbid": 7}}))
    report = subprocess.run([sys.executable, "-m", "ganglion.cli", "celery", "--config", str(path), "--", "report"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert report.returncode == 0, report.stderr
    assert "@127.0.0.1:6379/7'" in report.stdout.split("broker_url: ", 1)[1].splitlines()[0]


def test_the_monolith_has_no_celery_to_talk_to(tmp_path: Path) -> None:
    path = tmp_path / "homeserver.yaml"
    path.write_text(yaml.safe_dump({"server_name": "example.org"}))
    result = subprocess.run([sys.executable, "-m", "ganglion.cli", "celery", "--config", str(path), "--", "report"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: redis.enabled:")
