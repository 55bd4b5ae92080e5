"""Logging setup from ``worker_log_config`` or ``log_config``: a Python logging dictConfig YAML, as Synapse's.

A worker's own ``worker_log_config`` wins over the shared ``log_config``, so each process of a deployment can log
to its own file. A file that cannot be read or applied is a configuration error naming the key. Without one,
INFO goes to stderr, except Alembic's: its plugin set-up and each migration's docstring on every start tell an
operator nothing (``ganglion`` logs one line when the schema changed).
"""

from __future__ import annotations

import logging
import logging.config

import yaml

from config import ConfigError, HomeserverConfig


def configure_logging(config: HomeserverConfig) -> None:
    key, path = ("worker_log_config", config.workers.log_config) if config.workers.log_config else (
        "log_config", config.log_config)
    if not path:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("alembic").setLevel(logging.WARNING)
        return
    try:
        with open(path, encoding="utf-8") as handle:
            settings = yaml.safe_load(handle)
        logging.config.dictConfig(settings)
    except OSError as error:
        raise ConfigError(key, f"cannot read {path}: {error.strerror}") from None
    except (yaml.YAMLError, ValueError, TypeError, AttributeError) as error:
        raise ConfigError(key, f"{path} is not a usable logging config: {error}") from None
