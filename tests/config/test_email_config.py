"""The ``email`` section: Synapse's keys parsed, and a bad configuration stopping the server with the key named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config import parse_config
from config.errors import ConfigError

BASE = {"server_name": "test.local", "public_baseurl": "https://matrix.test.local/"}


def _email(**section: Any) -> Any:
    return parse_config({**BASE, "email": section}).email


def test_without_the_section_no_email_is_sent() -> None:
    assert parse_config(BASE).email.enable_notifs is False


def test_synapse_keys_are_read() -> None:
    config = _email(enable_notifs=True, smtp_host="mail.test.local", smtp_port=587, smtp_user="u", smtp_pass="p",
                    require_transport_security=True, notif_from="%(app)s <noreply@test.local>", app_name="Chat",
                    client_base_url="https://chat.test.local/", notif_delay="2m", notif_throttle="1h")
    assert (config.smtp_host, config.smtp_port, config.smtp_user, config.smtp_pass) == ("mail.test.local", 587,
                                                                                         "u", "p")
    assert config.require_transport_security and config.enable_tls and config.enable_notifs
    assert config.sender() == "Chat <noreply@test.local>"
    assert config.client_base_url == "https://chat.test.local"
    assert (config.notif_delay_ms, config.notif_throttle_ms) == (120_000, 3_600_000)
    assert "$messages" in config.template_html and "$unsubscribe_link" in config.template_text


def test_links_default_to_public_baseurl() -> None:
    assert _email(notif_from="noreply@test.local").client_base_url == "https://matrix.test.local"


def test_templates_come_from_template_dir(tmp_path: Path) -> None:
    (tmp_path / "mine.html").write_text("<p>$summary</p>")
    (tmp_path / "mine.txt").write_text("$summary")
    config = _email(notif_from="noreply@test.local", template_dir=str(tmp_path), notif_template_html="mine.html",
                    notif_template_text="mine.txt")
    assert (config.template_html, config.template_text) == ("<p>$summary</p>", "$summary")


@pytest.mark.parametrize(("section", "key"), [
    ({"enable_notifs": True}, "email.notif_from"),
    ({"notif_from": "nobody"}, "email.notif_from"),
    ({"notif_from": "a@test.local", "smtp_port": "25"}, "email.smtp_port"),
    ({"notif_from": "a@test.local", "smtp_port": 70000}, "email.smtp_port"),
    ({"notif_from": "a@test.local", "enable_tls": False, "require_transport_security": True},
     "email.require_transport_security"),
    ({"notif_from": "a@test.local", "smtp_user": "u"}, "email.smtp_pass"),
    ({"notif_from": "a@test.local", "client_base_url": "chat.test.local"}, "email.client_base_url"),
    ({"notif_from": "a@test.local", "notif_delay": "soon"}, "email.notif_delay"),
    ({"notif_from": "a@test.local", "notif_template_html": "missing.html"}, "email.notif_template_html"),
])
def test_bad_configuration_fails_naming_the_key(section: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({**BASE, "email": section})
    assert raised.value.path == key
