"""The generated config keeps Synapse's rate limits and, in its comments, the block a private test server uses
instead; the README shows the same block."""

from __future__ import annotations

from pathlib import Path

import yaml

from config import parse_config
from config.generate import render_homeserver_yaml

README = Path(__file__).resolve().parents[2] / "README.md"


def _commented_block(text: str) -> str:
    start = text.index("# rc_message: {per_second: 100")
    block = text[start:text.index("\n\n", start)]
    return "\n".join(line.removeprefix("# ") for line in block.splitlines())


def test_the_generated_config_keeps_synapses_limits() -> None:
    config = parse_config(yaml.safe_load(render_homeserver_yaml("example.org", "/data")))
    assert config.ratelimits["rc_message"].per_second == 0.2
    assert config.ratelimits["rc_login.address"].burst_count == 5


def test_the_commented_block_loads_and_lifts_every_limit_a_tester_meets() -> None:
    text = render_homeserver_yaml("example.org", "/data")
    data = {**yaml.safe_load(text), **yaml.safe_load(_commented_block(text))}
    config = parse_config(data)
    assert config.warnings == ()
    for bucket in ("rc_message", "rc_registration", "rc_login.address", "rc_login.account", "rc_room_creation",
                   "rc_joins.local", "rc_joins_per_room", "rc_invites.per_user", "rc_profile",
                   "rc_presence.per_user"):
        assert config.ratelimits[bucket].burst_count >= 100, bucket


def test_the_readme_shows_the_same_block() -> None:
    block = _commented_block(render_homeserver_yaml("example.org", "/data"))
    assert block in README.read_text()
