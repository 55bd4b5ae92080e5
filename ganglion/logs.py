"""Logging setup from ``log_config``/``worker_log_config`` (a dictConfig YAML, as Synapse uses)."""

from __future__ import annotations

import logging
import logging.config

import yaml


def configure_logging(path: str | None) -> None:
    if path:
        with open(path, encoding="utf-8") as handle:
            logging.config.dictConfig(yaml.safe_load(handle))
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
