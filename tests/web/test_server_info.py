"""Discovery endpoints: what a client asks before anything else."""

from tests.homeserver import HomeserverUnderTest


def test_versions_lists_v1_and_legacy_versions(homeserver: HomeserverUnderTest) -> None:
    response = homeserver.get("/_matrix/client/versions")
    assert response.status_code == 200
    versions = response.json["versions"]
    assert "v1.1" in versions and "r0.6.1" in versions
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_capabilities_require_a_token_and_describe_account_features(homeserver: HomeserverUnderTest) -> None:
    assert homeserver.get("/_matrix/client/v3/capabilities").json["errcode"] == "M_MISSING_TOKEN"
    token = homeserver.register("alice")["access_token"]
    capabilities = homeserver.get("/_matrix/client/v3/capabilities", token=token).json["capabilities"]
    assert capabilities["m.change_password"] == {"enabled": True}
    assert capabilities["m.set_displayname"] == {"enabled": True}
    assert capabilities["m.3pid_changes"] == {"enabled": False}


def test_well_known_client_points_at_public_baseurl(homeserver: HomeserverUnderTest) -> None:
    response = homeserver.get("/.well-known/matrix/client")
    assert response.json == {"m.homeserver": {"base_url": "https://matrix.test.local/"}}


def test_well_known_server_is_served_only_when_configured(make_homeserver) -> None:  # type: ignore[no-untyped-def]
    assert make_homeserver().get("/.well-known/matrix/server").status_code == 404
    served = make_homeserver(serve_server_wellknown=True).get("/.well-known/matrix/server")
    assert served.json == {"m.server": "matrix.test.local:443"}
