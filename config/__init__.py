"""Configuration: Synapse-vocabulary YAML turned into frozen, validated values, and the pure routing table.

Imports nothing of ours and no framework, so every process computes the same routing from the same files.
"""

from config.errors import ConfigError
from config.homeserver import HomeserverConfig, load_config, parse_config

__all__ = ["ConfigError", "HomeserverConfig", "load_config", "parse_config"]
