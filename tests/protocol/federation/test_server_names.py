"""Server names split for discovery (Appendices, "Server Name"; Server-Server API, "Resolving server names")."""

from __future__ import annotations

import pytest

from protocol.federation.server_names import ServerName, parse_server_name


@pytest.mark.parametrize("name, host, port, literal", [
    ("matrix.org", "matrix.org", None, False),
    ("Matrix.Org:8448", "matrix.org", 8448, False),
    ("1.2.3.4", "1.2.3.4", None, True),
    ("127.0.0.1:38001", "127.0.0.1", 38001, True),
    ("[1234:5678::abcd]", "1234:5678::abcd", None, True),
    ("[::1]:8008", "::1", 8008, True),
    ("localhost", "localhost", None, False),
])
def test_valid_names_split_into_host_and_port(name: str, host: str, port: int | None, literal: bool) -> None:
    parsed = parse_server_name(name)
    assert (parsed.host, parsed.port, parsed.is_ip_literal) == (host, port, literal)


@pytest.mark.parametrize("name", ["", "a:", "a:0", "a:65536", "a:port", "[::1", "[not-ipv6]", "[::1]x",
                                  "a b", "1.2.3.4:-1"])
def test_invalid_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError):
        parse_server_name(name)


def test_authorities_bracket_ipv6_and_add_the_default_port() -> None:
    assert ServerName("::1", None).authority(8448) == "[::1]:8448"
    assert ServerName("example.org", 443).authority(8448) == "example.org:443"
    assert ServerName("example.org", None).authority() == "example.org"
