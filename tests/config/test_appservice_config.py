"""``app_service_config_files``: registrations are read in full, and a bad one stops the start with the file and
key named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from config import parse_config
from config.errors import ConfigError
from protocol.appservices import ALIASES, USERS


def _file(directory: Path, name: str, **fields: Any) -> str:
    data: dict[str, Any] = {"id": name, "url": "http://127.0.0.1:9000", "as_token": f"as-{name}",
                            "hs_token": f"hs-{name}", "sender_localpart": f"{name}bot",
                            "namespaces": {"users": [{"regex": f"@{name}_.*:test.local", "exclusive": True}]}}
    data.update(fields)
    data = {key: value for key, value in data.items() if value != "<absent>"}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _load(*paths: str) -> Any:
    return parse_config({"server_name": "test.local", "app_service_config_files": list(paths)})


def test_a_registration_is_read_in_full(tmp_path: Path) -> None:
    path = _file(tmp_path, "irc", url="http://127.0.0.1:9000/", rate_limited=False, protocols=["irc"],
                 receive_ephemeral=True,
                 namespaces={"users": [{"regex": "@irc_.*:test.local", "exclusive": True}],
                             "aliases": [{"regex": "#irc_.*:test.local", "exclusive": False}],
                             "rooms": [{"regex": "!bridged:test.local", "exclusive": False}]})
    config = _load(path)
    service = config.appservices.by_as_token("as-irc")
    assert service is not None and service.id == "irc" and service.hs_token == "hs-irc"
    assert service.url == "http://127.0.0.1:9000"
    assert service.sender == "@ircbot:test.local"
    assert not service.rate_limited and service.receive_ephemeral and service.protocols == ("irc",)
    assert service.claims_exclusively(USERS, "@irc_alice:test.local")
    assert service.is_interested_in_alias("#irc_chan:test.local")
    assert not service.claims_exclusively(ALIASES, "#irc_chan:test.local")
    assert service.is_interested_in_room("!bridged:test.local")
    assert service.is_interested_in_user("@ircbot:test.local")
    assert not service.is_interested_in_user("@alice:test.local")
    assert config.warnings == ()


def test_a_null_url_is_an_appservice_without_pushes(tmp_path: Path) -> None:
    config = _load(_file(tmp_path, "quiet", url=None))
    service = config.appservices.by_id("quiet")
    assert service is not None and service.url is None


def test_the_unstable_ephemeral_key_counts(tmp_path: Path) -> None:
    config = _load(_file(tmp_path, "eph", **{"de.sorunome.msc2409.push_ephemeral": True}))
    service = config.appservices.by_id("eph")
    assert service is not None and service.receive_ephemeral


@pytest.mark.parametrize("key", ["as_token", "hs_token", "id", "sender_localpart", "url"])
def test_a_missing_key_names_the_file_and_the_key(tmp_path: Path, key: str) -> None:
    path = _file(tmp_path, "bridge", **{key: "<absent>"})
    with pytest.raises(ConfigError) as raised:
        _load(path)
    assert path in str(raised.value) and key in str(raised.value)


def test_a_duplicate_as_token_is_refused(tmp_path: Path) -> None:
    first = _file(tmp_path, "one", as_token="shared")
    second = _file(tmp_path, "two", as_token="shared")
    with pytest.raises(ConfigError) as raised:
        _load(first, second)
    assert second in str(raised.value) and "as_token" in str(raised.value) and first in str(raised.value)


def test_a_duplicate_id_is_refused(tmp_path: Path) -> None:
    first = _file(tmp_path, "one")
    second = _file(tmp_path, "two", id="one", as_token="as-other")
    with pytest.raises(ConfigError) as raised:
        _load(first, second)
    assert "id" in str(raised.value) and second in str(raised.value)


def test_overlapping_exclusive_namespaces_are_refused(tmp_path: Path) -> None:
    namespaces = {"users": [{"regex": "@shared_.*:test.local", "exclusive": True}]}
    first = _file(tmp_path, "one", namespaces=namespaces)
    second = _file(tmp_path, "two", namespaces=namespaces)
    with pytest.raises(ConfigError) as raised:
        _load(first, second)
    assert "namespaces.users" in str(raised.value) and "exclusively" in str(raised.value)


def test_claiming_another_appservices_sender_exclusively_is_refused(tmp_path: Path) -> None:
    first = _file(tmp_path, "one", namespaces={"users": [{"regex": "@.*bot:test.local", "exclusive": True}]})
    second = _file(tmp_path, "two")
    with pytest.raises(ConfigError) as raised:
        _load(first, second)
    assert "@twobot:test.local" in str(raised.value)


def test_a_regex_that_does_not_compile_is_named(tmp_path: Path) -> None:
    path = _file(tmp_path, "bad", namespaces={"users": [{"regex": "@(unclosed", "exclusive": True}]})
    with pytest.raises(ConfigError) as raised:
        _load(path)
    assert "namespaces.users[0].regex" in str(raised.value) and path in str(raised.value)


def test_exclusive_must_be_given_as_a_boolean(tmp_path: Path) -> None:
    path = _file(tmp_path, "bad", namespaces={"users": [{"regex": "@x_.*", "exclusive": "yes"}]})
    with pytest.raises(ConfigError, match="exclusive"):
        _load(path)


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        _load(str(tmp_path / "missing.yaml"))


def test_msc3202_is_read_and_must_be_a_boolean(tmp_path: Path) -> None:
    service = _load(_file(tmp_path, "e2ee", **{"org.matrix.msc3202": True})).appservices.by_id("e2ee")
    assert service is not None and service.msc3202
    assert not _load(_file(tmp_path, "plain")).appservices.by_id("plain").msc3202
    with pytest.raises(ConfigError, match=r"org\.matrix\.msc3202"):
        _load(_file(tmp_path, "bad", **{"org.matrix.msc3202": "yes"}))
