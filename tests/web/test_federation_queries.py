"""Other servers' queries, answered (Server-Server API: "Query", "Public Room Directory", "Spaces", "Timestamp to
event", "Device Management", "End-to-End Encryption", "OpenID", "Content Repository"), as signed HTTP requests
from a pretend ``remote.test`` in both shapes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from PIL import Image

from protocol.federation.media import parse_media_response
from tests.appservice_double import AS_TOKEN, registration
from tests.conftest import HomeserverFactory
from tests.homeserver import SERVER_NAME, HomeserverUnderTest
from tests.web.federation_peers import FEDERATION_CONFIG, seed_remote_keys, signed_request
from tests.web.key_owners import CrossSigning, KeyedDevice
from tests.web.media import image_bytes, uploaded_media_id

FED = "/_matrix/federation/v1"
V3 = "/_matrix/client/v3"


@pytest.fixture
def server(make_homeserver: HomeserverFactory) -> HomeserverUnderTest:
    homeserver = make_homeserver(**FEDERATION_CONFIG)
    seed_remote_keys(homeserver)
    return homeserver


def _error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json["errcode"]


def _room(server: HomeserverUnderTest, token: str, **body: Any) -> str:
    response = server.post(f"{V3}/createRoom", token=token, json=body)
    assert response.status_code == 200, response.json
    return str(response.json["room_id"])


def test_directory_query_answers_local_aliases_only(server: HomeserverUnderTest) -> None:
    alice = server.register("alice")["access_token"]
    room_id = _room(server, alice, room_alias_name="hall")
    found = signed_request(server, "GET", f"{FED}/query/directory?room_alias={quote('#hall:test.local')}")
    assert (found.status_code, found.json) == (200, {"room_id": room_id, "servers": [SERVER_NAME]})
    missing = signed_request(server, "GET", f"{FED}/query/directory?room_alias={quote('#none:test.local')}")
    assert _error(missing) == (404, "M_NOT_FOUND")
    assert _error(signed_request(server, "GET", f"{FED}/query/directory?room_alias={quote('#a:remote.test')}")) == (
        400, "M_INVALID_PARAM")
    assert _error(signed_request(server, "GET", f"{FED}/query/directory")) == (400, "M_MISSING_PARAM")
    assert _error(signed_request(server, "GET", f"{FED}/query/directory?room_alias=hall")) == (400, "M_INVALID_PARAM")
    assert _error(server.get(f"{FED}/query/directory?room_alias={quote('#hall:test.local')}")) == (
        401, "M_UNAUTHORIZED")


def test_public_rooms_are_listed_to_servers_with_filters_and_paging(server: HomeserverUnderTest) -> None:
    alice = server.register("alice")["access_token"]
    first = _room(server, alice, preset="public_chat", visibility="public", name="Gardening")
    second = _room(server, alice, preset="public_chat", visibility="public", name="Cooking")
    _room(server, alice, name="Secret")
    listed = signed_request(server, "GET", f"{FED}/publicRooms")
    assert listed.status_code == 200, listed.json
    assert {room["room_id"] for room in listed.json["chunk"]} == {first, second}
    assert {room["name"] for room in listed.json["chunk"]} == {"Gardening", "Cooking"}
    page = signed_request(server, "GET", f"{FED}/publicRooms?limit=1")
    assert len(page.json["chunk"]) == 1 and "next_batch" in page.json
    rest = signed_request(server, "GET", f"{FED}/publicRooms?limit=1&since={page.json['next_batch']}")
    assert {page.json["chunk"][0]["room_id"], rest.json["chunk"][0]["room_id"]} == {first, second}
    searched = signed_request(server, "POST", f"{FED}/publicRooms", {"filter": {"generic_search_term": "garden"}})
    assert [room["room_id"] for room in searched.json["chunk"]] == [first]
    network = signed_request(server, "GET", f"{FED}/publicRooms?third_party_instance_id=irc")
    assert network.json["chunk"] == [], "no application service has that network"
    assert _error(signed_request(server, "GET", f"{FED}/publicRooms?limit=many")) == (400, "M_INVALID_PARAM")
    assert _error(signed_request(server, "POST", f"{FED}/publicRooms", {"limit": "ten"})) == (400, "M_BAD_JSON")


def test_get_and_post_public_rooms_list_an_appservice_networks_rooms_alike(make_homeserver: HomeserverFactory,
                                                                          tmp_path: Path) -> None:
    server = make_homeserver(**FEDERATION_CONFIG, app_service_config_files=[registration(tmp_path, url=None)])
    seed_remote_keys(server)
    alice = server.register("alice")["access_token"]
    main = _room(server, alice, preset="public_chat", visibility="public", name="Main")
    bridged = _room(server, alice, preset="public_chat", name="Bridged")
    assert server.put(f"{V3}/directory/list/appservice/irc/{bridged}", token=AS_TOKEN,
                      json={"visibility": "public"}).status_code == 200
    for query, expected in (({"third_party_instance_id": "bridge|irc"}, [bridged]),
                            ({"third_party_instance_id": "bridge|other"}, []),
                            ({"include_all_networks": "true"}, sorted([main, bridged])), ({}, [main])):
        got = signed_request(server, "GET", f"{FED}/publicRooms" + (f"?{urlencode(query)}" if query else ""))
        posted = signed_request(server, "POST", f"{FED}/publicRooms",
                                {key: value == "true" if key == "include_all_networks" else value
                                 for key, value in query.items()})
        assert got.status_code == posted.status_code == 200, (got.json, posted.json)
        assert sorted(room["room_id"] for room in got.json["chunk"]) == expected, query
        assert got.json == posted.json, query


def test_user_devices_and_keys_are_served_without_device_names(server: HomeserverUnderTest) -> None:
    alice = server.register("alice", initial_device_display_name="Alice's phone")
    token, device_id, user_id = alice["access_token"], alice["device_id"], alice["user_id"]
    device = KeyedDevice(user_id, device_id)
    cross = CrossSigning(user_id)
    assert server.post(f"{V3}/keys/upload", token=token, json={
        "device_keys": device.device_keys(), "one_time_keys": device.one_time_keys(1)}).status_code == 200
    upload = server.post(f"{V3}/keys/device_signing/upload", token=token, json=cross.upload_body())
    assert upload.status_code in (200, 401)
    if upload.status_code == 401:  # user-interactive auth, as for a client
        body = {**cross.upload_body(), "auth": {**server.password_auth(user_id), "session": upload.json["session"]}}
        assert server.post(f"{V3}/keys/device_signing/upload", token=token, json=body).status_code == 200

    def listed() -> Any:
        answer = signed_request(server, "GET", f"{FED}/user/devices/{quote(user_id)}")
        return answer if answer.json.get("stream_id") else None

    devices = server.eventually(listed)
    assert devices.status_code == 200, devices.json
    assert devices.json["user_id"] == user_id and devices.json["stream_id"] > 0
    assert [entry["device_id"] for entry in devices.json["devices"]] == [device_id]
    served = devices.json["devices"][0]
    assert "device_display_name" not in served and "device_display_name" not in served["keys"]["unsigned"]
    assert served["keys"]["keys"] == device.device_keys()["keys"]
    assert devices.json["master_key"]["keys"] == cross.master_key()["keys"]
    assert devices.json["self_signing_key"]["keys"] == cross.self_signing_key()["keys"]
    queried = signed_request(server, "POST", f"{FED}/user/keys/query", {"device_keys": {user_id: []}})
    assert list(queried.json["device_keys"][user_id]) == [device_id]
    assert "user_signing_keys" not in queried.json and user_id in queried.json["master_keys"]
    claimed = signed_request(server, "POST", f"{FED}/user/keys/claim",
                             {"one_time_keys": {user_id: {device_id: "signed_curve25519"}}})
    assert list(claimed.json["one_time_keys"][user_id][device_id]) == ["signed_curve25519:AAAA0001"]
    again = signed_request(server, "POST", f"{FED}/user/keys/claim",
                           {"one_time_keys": {user_id: {device_id: "signed_curve25519"}}})
    assert again.json["one_time_keys"] == {}, "a one-time key is handed out once"
    assert _error(signed_request(server, "GET", f"{FED}/user/devices/{quote('@bob:remote.test')}")) == (
        400, "M_INVALID_PARAM")
    assert _error(signed_request(server, "GET", f"{FED}/user/devices/{quote('@nobody:test.local')}")) == (
        404, "M_NOT_FOUND")
    assert _error(signed_request(server, "POST", f"{FED}/user/keys/query", {"device_keys": {"x": []}})) == (
        400, "M_BAD_JSON")


def test_hierarchy_shows_one_level_of_what_the_server_may_see(server: HomeserverUnderTest) -> None:
    alice = server.register("alice")["access_token"]
    space = _room(server, alice, preset="public_chat", creation_content={"type": "m.space"}, name="Space")
    public = _room(server, alice, preset="public_chat", name="Open")
    private = _room(server, alice, preset="private_chat", name="Closed")
    for child, suggested in ((public, True), (private, False)):
        response = server.put(f"{V3}/rooms/{space}/state/m.space.child/{child}", token=alice,
                              json={"via": [SERVER_NAME], "suggested": suggested})
        assert response.status_code == 200, response.json
    answer = signed_request(server, "GET", f"{FED}/hierarchy/{space}")
    assert answer.status_code == 200, answer.json
    assert answer.json["room"]["room_id"] == space and answer.json["room"]["room_type"] == "m.space"
    assert {state["state_key"] for state in answer.json["room"]["children_state"]} == {public, private}
    assert [room["room_id"] for room in answer.json["children"]] == [public]
    assert answer.json["inaccessible_children"] == [private]
    suggested = signed_request(server, "GET", f"{FED}/hierarchy/{space}?suggested_only=true")
    assert [state["state_key"] for state in suggested.json["room"]["children_state"]] == [public]
    assert _error(signed_request(server, "GET", f"{FED}/hierarchy/{private}")) == (404, "M_NOT_FOUND")
    assert _error(signed_request(server, "GET", f"{FED}/hierarchy/!nowhere:test.local")) == (404, "M_NOT_FOUND")
    assert _error(signed_request(server, "GET", f"{FED}/hierarchy/{space}?suggested_only=maybe")) == (
        400, "M_INVALID_PARAM")


def test_timestamp_to_event_is_for_servers_in_the_room(server: HomeserverUnderTest) -> None:
    alice = server.register("alice")["access_token"]
    room_id = _room(server, alice, preset="public_chat")
    path = f"{FED}/timestamp_to_event/{room_id}?ts={server.clock.now_ms() + 1000}&dir=b"
    assert _error(signed_request(server, "GET", path)) == (403, "M_FORBIDDEN")
    assert _error(signed_request(server, "GET", f"{FED}/timestamp_to_event/{room_id}?dir=b")) == (
        400, "M_MISSING_PARAM")
    assert _error(signed_request(server, "GET", f"{FED}/timestamp_to_event/{room_id}?ts=1&dir=x")) == (
        400, "M_INVALID_PARAM")
    assert _error(signed_request(server, "GET", f"{FED}/timestamp_to_event/!no:test.local?ts=1&dir=f")) == (
        404, "M_NOT_FOUND")


def test_openid_tokens_identify_their_user_for_an_hour(server: HomeserverUnderTest) -> None:
    alice = server.register("alice")
    token, user_id = alice["access_token"], alice["user_id"]
    issued = server.post(f"{V3}/user/{quote(user_id)}/openid/request_token", token=token, json={})
    assert issued.status_code == 200, issued.json
    assert issued.json["matrix_server_name"] == SERVER_NAME and issued.json["expires_in"] == 3600
    assert issued.json["token_type"] == "Bearer"
    info = server.get(f"{FED}/openid/userinfo?access_token={issued.json['access_token']}")
    assert (info.status_code, info.json) == (200, {"sub": user_id})
    assert _error(server.get(f"{FED}/openid/userinfo?access_token=an/invalid/token")) == (401, "M_UNKNOWN_TOKEN")
    assert _error(server.get(f"{FED}/openid/userinfo")) == (401, "M_UNKNOWN_TOKEN")
    server.clock.advance(3_600_001)
    expired = server.get(f"{FED}/openid/userinfo?access_token={issued.json['access_token']}")
    assert _error(expired) == (401, "M_UNKNOWN_TOKEN")
    other = server.post(f"{V3}/user/{quote('@bob:test.local')}/openid/request_token", token=token, json={})
    assert _error(other) == (403, "M_FORBIDDEN")
    assert _error(server.post(f"{V3}/user/{quote(user_id)}/openid/request_token", json={})) == (
        401, "M_MISSING_TOKEN")


def test_local_media_is_served_to_servers_as_multipart(server: HomeserverUnderTest) -> None:
    token = server.register("alice")["access_token"]
    media_id = uploaded_media_id(server, token, b"hello, federation", "text/plain", filename="note.txt")
    answer = signed_request(server, "GET", f"{FED}/media/download/{media_id}")
    assert answer.status_code == 200
    part = parse_media_response(answer.headers["Content-Type"], answer.get_data())
    assert part.metadata == {} and part.content == b"hello, federation"
    assert part.content_type is not None and part.content_type.startswith("text/plain")
    assert part.content_disposition is not None and "note.txt" in part.content_disposition
    assert int(answer.headers["Content-Length"]) == len(answer.get_data())
    image_id = uploaded_media_id(server, token, image_bytes(640, 480), "image/png")
    thumbnail = signed_request(server, "GET", f"{FED}/media/thumbnail/{image_id}?width=32&height=32&method=crop")
    assert thumbnail.status_code == 200
    made = parse_media_response(thumbnail.headers["Content-Type"], thumbnail.get_data())
    assert made.content_type == "image/png" and made.content.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(made.content)).size == (32, 32)
    assert _error(signed_request(server, "GET", f"{FED}/media/download/nosuchmedia")) == (404, "M_NOT_FOUND")
    assert _error(signed_request(server, "GET", f"{FED}/media/thumbnail/{media_id}?width=0&height=1")) == (
        400, "M_INVALID_PARAM")
    assert _error(server.get(f"{FED}/media/download/{media_id}")) == (401, "M_UNAUTHORIZED")


def test_asking_a_server_that_does_not_answer_is_a_502_and_one_that_does_not_exist_a_404(
        server: HomeserverUnderTest) -> None:
    """remote.test is mapped to a closed port here; elsewhere.invalid has no DNS name (RFC 6761)."""
    token = server.register("alice")["access_token"]
    assert _error(server.get(f"{V3}/profile/{quote('@bob:remote.test')}")) == (502, "M_UNKNOWN")
    assert _error(server.get(f"{V3}/directory/room/{quote('#hall:remote.test')}")) == (502, "M_UNKNOWN")
    assert _error(server.get(f"{V3}/profile/{quote('@bob:elsewhere.invalid')}")) == (404, "M_NOT_FOUND")
    assert _error(server.get("/_matrix/client/v1/media/download/elsewhere.invalid/abcdef", token=token)) == (
        404, "M_NOT_FOUND")
    if server.shape == "monolith":  # the session's shared Celery worker does not map remote.test anywhere
        assert _error(server.get("/_matrix/client/v1/media/download/remote.test/abcdef", token=token)) == (
            502, "M_UNKNOWN")
