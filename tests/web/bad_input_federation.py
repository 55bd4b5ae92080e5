"""The Server-Server API's endpoints, for the bad-input walk (merged into ``bad_input_endpoints.ENDPOINTS``)."""

from __future__ import annotations

from tests.web.bad_input_schema import BAD_JSON, BodySchema, Endpoint, Invalid

FEDERATION_ENDPOINTS: dict[str, Endpoint] = {
    "federation.get_version": Endpoint(auth=False),
    "federation.query_profile": Endpoint(auth=False),
    # Receiving and serving room events (tests/web/test_federation_send.py, test_federation_room_events.py).
    "federation.send_transaction": Endpoint(auth=False, server_signed=True),
    "federation.get_event": Endpoint(auth=False, server_signed=True),
    "federation.get_state": Endpoint(auth=False, server_signed=True),
    "federation.get_state_ids": Endpoint(auth=False, server_signed=True),
    "federation.get_event_auth": Endpoint(auth=False, server_signed=True),
    "federation.backfill": Endpoint(auth=False, server_signed=True),
    "federation.get_missing_events": Endpoint(auth=False, server_signed=True),
    # Membership handshakes (tests/web/test_federation_membership.py, test_federation_remote_membership.py).
    "federation.make_join": Endpoint(auth=False, server_signed=True),
    "federation.make_leave": Endpoint(auth=False, server_signed=True),
    "federation.make_knock": Endpoint(auth=False, server_signed=True),
    "federation.send_join": Endpoint(auth=False, server_signed=True),
    "federation.send_leave": Endpoint(auth=False, server_signed=True),
    "federation.send_knock": Endpoint(auth=False, server_signed=True),
    "federation.invite": Endpoint(auth=False, server_signed=True),
    "federation.exchange_third_party_invite": Endpoint(auth=False, server_signed=True),
    "federation.on_bind": Endpoint(auth=False, bodies=(BodySchema(
        lambda walker: {"medium": "email", "address": "w@example.org", "mxid": walker.user_id, "invites": []},
        {"mxid": "string"}, required=("mxid",),
        invalid=(Invalid("mxid", "@someone:elsewhere.test", 400, BAD_JSON),)),)),
    # Federation queries and media (tests/web/test_federation_queries.py).
    "federation.query_directory": Endpoint(auth=False, server_signed=True),
    "federation.get_public_rooms": Endpoint(auth=False, server_signed=True),
    "federation.query_public_rooms": Endpoint(auth=False, server_signed=True),
    "federation.get_hierarchy": Endpoint(auth=False, server_signed=True),
    "federation.get_event_by_timestamp": Endpoint(auth=False, server_signed=True),
    "federation.get_user_devices": Endpoint(auth=False, server_signed=True),
    "federation.query_user_keys": Endpoint(auth=False, server_signed=True),
    "federation.claim_user_keys": Endpoint(auth=False, server_signed=True),
    "federation.download_media": Endpoint(auth=False, server_signed=True),
    "federation.thumbnail_media": Endpoint(auth=False, server_signed=True),
    # Not X-Matrix: any third party with an OpenID token; the walk's tokens are never OpenID tokens (401).
    "federation.get_userinfo": Endpoint(auth=False),
}
