"""``/versions`` advertises exactly the spec versions whose required endpoints the app serves
(protocol/spec_versions.py lists, per version, the endpoints it introduced)."""

from __future__ import annotations

from protocol.spec_versions import SPEC_VERSIONS, example_path, missing_endpoints
from tests.homeserver import HomeserverUnderTest
from web.client.server_info import routes_to_a_view

ADVERTISED_TODAY = (
    "r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1",
    "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12", "v1.13",
)
"""Pinned so that a change shows in review: v1.14 waits for user reports (``POST /users/{userId}/report``)."""


def test_versions_advertises_each_version_whose_endpoints_are_all_served(homeserver: HomeserverUnderTest) -> None:
    advertised = homeserver.get("/_matrix/client/versions").json["versions"]
    served = routes_to_a_view(homeserver.app)
    for version in SPEC_VERSIONS:
        if version.name in advertised:
            assert missing_endpoints(version, served) == [], version.name
    assert advertised == list(ADVERTISED_TODAY)


def test_the_first_version_not_advertised_of_each_line_lacks_an_endpoint(homeserver: HomeserverUnderTest) -> None:
    advertised = set(homeserver.get("/_matrix/client/versions").json["versions"])
    served = routes_to_a_view(homeserver.app)
    for line in ("r0.", "v1."):
        withheld = [version for version in SPEC_VERSIONS if version.name.startswith(line)
                    and version.name not in advertised]
        if withheld:
            assert missing_endpoints(withheld[0], served), f"{withheld[0].name} could be advertised"


def test_every_listed_endpoint_is_a_matrix_path_with_an_http_method() -> None:
    for version in SPEC_VERSIONS:
        for method, path in version.introduced:
            assert method in {"GET", "PUT", "POST", "DELETE"}, (version.name, method)
            assert path.startswith("/_matrix/") and "<" not in path, (version.name, path)


def test_an_endpoint_counts_as_served_only_when_the_app_routes_it(homeserver: HomeserverUnderTest) -> None:
    serves = routes_to_a_view(homeserver.app)
    assert serves("PUT", example_path("/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}"))
    assert serves("GET", example_path("/_matrix/client/v3/profile/{userId}/displayname"))
    assert not serves("DELETE", example_path("/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}"))
    assert not serves("GET", "/_matrix/client/v1/no_such_endpoint")
