"""The spec's facts about each endpoint, for the bad-input walk in test_bad_input.py.

Whether it needs a token, one body it accepts, each body field's type (from data/api/client-server/*.yaml),
which fields are required, and values of the right type that must still be refused. A new endpoint is entered
here, or ``test_every_route_is_described`` fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.homeserver import PASSWORD
from tests.web.bad_input_federation import FEDERATION_ENDPOINTS
from tests.web.bad_input_schema import BAD_JSON, INVALID_PARAM, MISSING, NOT_FOUND, BodySchema, Endpoint, Invalid
from tests.web.key_owners import CrossSigning, KeyedDevice
from web.admin.register import expected_mac

if TYPE_CHECKING:
    from tests.web.test_bad_input import Walker

SHARED_SECRET = "test-shared-secret"


MEGOLM_BACKUP = "m.megolm_backup.v1.curve25519-aes-sha2"


def _backed_up_key() -> dict[str, Any]:
    return {"first_message_index": 0, "forwarded_count": 0, "is_verified": False,
            "session_data": {"ephemeral": "e", "ciphertext": "c", "mac": "m"}}


def _dehydrated_device_body(walker: Walker) -> dict[str, Any]:
    device = KeyedDevice(walker.user_id, "WALKDRY", stable=True)
    return {"device_id": "WALKDRY", "device_data": {"algorithm": "m.dehydration.v2", "device_pickle": "p"},
            "initial_device_display_name": "Walk", "device_keys": device.device_keys(),
            "one_time_keys": device.one_time_keys(1), "fallback_keys": device.fallback_key()}


def _password_uia(walker: Walker) -> dict[str, Any]:
    return {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": walker.user_id},
            "password": PASSWORD}


# definitions/auth_data.yaml plus the m.login.password stage's own keys (spec: "Password-based").
PASSWORD_UIA_FIELDS = {
    "auth": "object", "auth.type": "string", "auth.session": "string", "auth.identifier": "object",
    "auth.identifier.type": "string", "auth.identifier.user": "string", "auth.password": "string",
}
PASSWORD_UIA_REQUIRED = ("auth.identifier", "auth.identifier.type", "auth.identifier.user", "auth.password")
FORBIDDEN = frozenset({"M_FORBIDDEN"})
PASSWORD_UIA_INVALID = (
    Invalid("auth.password", "not the password", 401, FORBIDDEN),
    Invalid("auth.identifier.user", "@somebody-else:test.local", 401, FORBIDDEN),
    Invalid("auth.identifier.type", "m.id.bogus", 400),
    Invalid("auth.type", "m.login.bogus", 400),
    Invalid("auth.session", "no-such-session", 400),
)
INVALID_USERNAME = frozenset({"M_INVALID_USERNAME"})


def _register_body(walker: Walker) -> dict[str, Any]:
    return {"username": "newbie", "password": "newbie's password", "device_id": "NEWBIEPHONE",
            "initial_device_display_name": "Newbie's phone", "inhibit_login": False, "refresh_token": False,
            "auth": {"type": "m.login.dummy"}}


def _admin_register_body(walker: Walker) -> dict[str, Any]:
    nonce = walker.server.get("/_synapse/admin/v1/register").json["nonce"]  # type: ignore[index]
    mac = expected_mac(SHARED_SECRET, nonce, "adminbot", "bot password", False, "bot")
    return {"nonce": nonce, "username": "adminbot", "password": "bot password", "admin": False,
            "user_type": "bot", "displayname": "Bot", "mac": mac}


def _upload_keys_body(walker: Walker) -> dict[str, Any]:
    device = KeyedDevice(walker.user_id, walker.device_id, stable=True)
    return {"device_keys": device.device_keys(), "one_time_keys": device.one_time_keys(1),
            "fallback_keys": device.fallback_key()}


ENDPOINTS: dict[str, Endpoint] = {
    "client.get_versions": Endpoint(auth=False),
    "client.get_capabilities": Endpoint(auth=True),
    "client.register": Endpoint(auth=False, bodies=(BodySchema(
        _register_body,
        {"username": "string", "password": "string", "device_id": "string", "initial_device_display_name": "string",
         "inhibit_login": "boolean", "refresh_token": "boolean", "auth": "object", "auth.type": "string",
         "auth.session": "string"},
        required=("password",),
        invalid=(Invalid("username", "", 400, INVALID_USERNAME),
                 Invalid("username", "has space", 400, INVALID_USERNAME),
                 Invalid("username", "newbie\n", 400, INVALID_USERNAME),
                 Invalid("username", "12345", 400, INVALID_USERNAME),
                 Invalid("username", "x" * 300, 400),
                 Invalid("username", "WALKER", 400, frozenset({"M_USER_IN_USE"})),
                 Invalid("password", "x" * 600, 400),
                 Invalid("auth.type", "m.login.bogus", 400),
                 Invalid("auth.session", "no-such-session", 400)),
    ),)),
    "client.get_username_available": Endpoint(auth=False),
    "client.get_registration_token_validity": Endpoint(auth=False),
    "client.get_login_flows": Endpoint(auth=False),
    # login.yaml also names token, medium and address; an m.login.password login does not read them.
    "client.login": Endpoint(auth=False, bodies=(
        BodySchema(
            lambda walker: {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "walker"},
                            "password": PASSWORD, "device_id": "LOGINPHONE",
                            "initial_device_display_name": "Login phone", "refresh_token": False},
            {"type": "string", "identifier": "object", "identifier.type": "string", "identifier.user": "string",
             "password": "string", "device_id": "string", "initial_device_display_name": "string",
             "refresh_token": "boolean"},
            required=("type", "identifier", "identifier.type", "identifier.user", "password"),
            invalid=(Invalid("type", "m.login.bogus", 400),
                     Invalid("identifier.type", "m.id.bogus", 400),
                     Invalid("identifier.user", "@walker:elsewhere.example", 403, FORBIDDEN),
                     Invalid("password", "not the password", 403, FORBIDDEN),
                     Invalid("device_id", "D" * 300, 400)),
        ),
        # The deprecated top-level "user" is read only when there is no "identifier".
        BodySchema(lambda walker: {"type": "m.login.password", "user": "walker", "password": PASSWORD},
                   {"user": "string"}),
    )),
    "client.refresh": Endpoint(auth=False, bodies=(BodySchema(
        lambda walker: {"refresh_token": walker.refresh_token}, {"refresh_token": "string"},
        required=("refresh_token",),
        invalid=(Invalid("refresh_token", "syr_unknown", 401, frozenset({"M_UNKNOWN_TOKEN"})),),
    ),)),
    "client.logout": Endpoint(auth=True),
    "client.logout_all": Endpoint(auth=True),
    "client.get_whoami": Endpoint(auth=True),
    "client.whois": Endpoint(auth=True),
    "client.change_password": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"new_password": "a brand new password", "logout_devices": False,
                        "auth": _password_uia(walker)},
        {"new_password": "string", "logout_devices": "boolean", **PASSWORD_UIA_FIELDS},
        required=("new_password", *PASSWORD_UIA_REQUIRED),
        invalid=(Invalid("new_password", "x" * 600, 400), *PASSWORD_UIA_INVALID),
    ),)),
    "client.deactivate_account": Endpoint(auth=True, body_optional=True, bodies=(BodySchema(
        lambda walker: {"auth": _password_uia(walker), "erase": False, "id_server": "id.example.org"},
        {"erase": "boolean", "id_server": "string", **PASSWORD_UIA_FIELDS},
        required=PASSWORD_UIA_REQUIRED, invalid=PASSWORD_UIA_INVALID,
    ),)),
    "client.list_devices": Endpoint(auth=True),
    "client.get_device": Endpoint(auth=True),
    "client.update_device": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"display_name": "Renamed"}, {"display_name": "string"},
        invalid=(Invalid("display_name", "x" * 101, 400),),
    ),)),
    "client.delete_device": Endpoint(auth=True, body_optional=True, bodies=(BodySchema(
        lambda walker: {"auth": _password_uia(walker)}, PASSWORD_UIA_FIELDS,
        required=PASSWORD_UIA_REQUIRED, invalid=PASSWORD_UIA_INVALID,
    ),)),
    "client.delete_devices": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"devices": [walker.spare_device_id], "auth": _password_uia(walker)},
        {"devices": "strings", **PASSWORD_UIA_FIELDS},
        required=("devices", *PASSWORD_UIA_REQUIRED),
        invalid=(Invalid("devices", ["D" * 256], 400), *PASSWORD_UIA_INVALID),
    ),)),
    "client.get_profile": Endpoint(auth=False),
    "client.get_profile_field": Endpoint(auth=False),
    # <field> is 'displayname' in the walk: its body key is the same name.
    "client.set_profile_field": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"displayname": "Renamed Walker"}, {"displayname": "string"},
        required=("displayname",), invalid=(Invalid("displayname", "x" * 257, 400),),
    ),)),
    # Rooms: the walk's room id names no room, so nothing it sends can create state; bodies are still checked
    # before the room is looked up.
    "client.create_room": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"name": "Walk", "preset": "private_chat"},
        {"visibility": "string", "name": "string", "topic": "string", "invite": "strings", "room_version": "string",
         "creation_content": "object", "preset": "string", "is_direct": "boolean",
         "power_level_content_override": "object", "room_alias_name": "string"},
        invalid=(Invalid("room_version", "999", 400, frozenset({"M_UNSUPPORTED_ROOM_VERSION"})),
                 Invalid("preset", "bogus", 400), Invalid("visibility", "bogus", 400),
                 Invalid("invite", ["not-a-user-id"], 400, frozenset({"M_BAD_JSON"})),
                 Invalid("initial_state", [{"type": "m.room.topic"}], 400, frozenset({"M_MISSING_PARAM"})),
                 Invalid("room_alias_name", "has space", 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("room_alias_name", "a:b", 400, frozenset({"M_INVALID_PARAM"}))),
    ),)),
    "client.send_event": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"msgtype": "m.text", "body": "hello"}, {}),)),
    "client.send_event_without_txn": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"msgtype": "m.text", "body": "hello"}, {}),)),
    "client.set_state": Endpoint(auth=True, bodies=(BodySchema(lambda walker: {"topic": "walk"}, {}),)),
    "client.get_state_event": Endpoint(auth=True),
    "client.get_state": Endpoint(auth=True),
    "client.get_event": Endpoint(auth=True),
    "client.get_joined_rooms": Endpoint(auth=True),
    "client.join_room": Endpoint(auth=True, body_optional=True, bodies=(BodySchema(
        lambda walker: {"reason": "walking"}, {"reason": "string"}),)),
    "client.knock_room": Endpoint(auth=True, body_optional=True, bodies=(BodySchema(
        lambda walker: {"reason": "walking"}, {"reason": "string"}),)),
    "client.leave_room": Endpoint(auth=True, body_optional=True, bodies=(BodySchema(
        lambda walker: {"reason": "walking"}, {"reason": "string"}),)),
    "client.forget_room": Endpoint(auth=True),
    **{f"client.{action}_user": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"user_id": "@someone:test.local", "reason": "walking"},
        {"user_id": "string", "reason": "string"}, required=("user_id",),
        invalid=(Invalid("user_id", "not-a-user-id", 400, frozenset({"M_BAD_JSON"})),)),))
       for action in ("invite", "kick", "ban", "unban")},
    "client.get_members": Endpoint(auth=True),
    # redaction.yaml: the body is required; its one field is the optional reason.
    "client.redact_event": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"reason": "walking"}, {"reason": "string"}),)),
    "client.redact_event_without_txn": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"reason": "walking"}, {"reason": "string"}),)),
    "client.get_joined_members": Endpoint(auth=True),
    "client.get_room_events": Endpoint(auth=True),
    "client.get_event_context": Endpoint(auth=True),
    "client.get_event_by_timestamp": Endpoint(auth=True),
    "client.get_relating_events": Endpoint(auth=True),
    "client.get_thread_roots": Endpoint(auth=True),
    "keys.get_server_key": Endpoint(auth=False),
    "keys.get_server_key_by_id": Endpoint(auth=False),
    # Server-Server API: the walk's notary queries name this server only, so nothing is fetched from elsewhere.
    # Federation views authenticate with X-Matrix, not access tokens (tests/web/test_federation_auth.py).
    "keys.query_keys": Endpoint(auth=False, bodies=(BodySchema(
        lambda walker: {"server_keys": {"test.local": {}}}, {"server_keys": "object", "server_keys.test.local":
                                                             "object"}, required=("server_keys",)),)),
    "keys.query_server_keys": Endpoint(auth=False),
    "keys.query_server_key_by_id": Endpoint(auth=False),
    **FEDERATION_ENDPOINTS,
    "client.request_openid_token": Endpoint(auth=True, bodies=(BodySchema(lambda walker: {}, {}),)),
    # Aliases and the published room directory: the walk's alias and room id name nothing, so nothing changes.
    "client.set_room_alias": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"room_id": "!nowhere:test.local"}, {"room_id": "string"}, required=("room_id",),
        invalid=(Invalid("room_id", "not-a-room-id", 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("room_id", "!nowhere:test.local", 404, frozenset({"M_NOT_FOUND"})))),)),
    "client.get_room_id_by_alias": Endpoint(auth=False),
    "client.delete_room_alias": Endpoint(auth=True),
    "client.get_local_aliases": Endpoint(auth=True),
    "client.get_room_visibility_on_directory": Endpoint(auth=False),
    "client.set_room_visibility_on_directory": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"visibility": "public"}, {"visibility": "string"},
        invalid=(Invalid("visibility", "bogus", 400, frozenset({"M_INVALID_PARAM"})),)),)),
    "client.get_public_rooms": Endpoint(auth=False),
    "client.query_public_rooms": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"limit": 10, "filter": {"generic_search_term": "walk"}, "include_all_networks": False},
        {"since": "string", "filter": "object", "filter.generic_search_term": "string",
         "include_all_networks": "boolean", "third_party_instance_id": "string"},
        invalid=(Invalid("since", "not-a-token", 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("limit", -1, 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("limit", "ten", 400, frozenset({"M_BAD_JSON"})),
                 Invalid("filter.room_types", "m.space", 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("filter.room_types", [1], 400, frozenset({"M_INVALID_PARAM"})))),)),
    "client.get_space_hierarchy": Endpoint(auth=True),
    # Upgrades, reports and search: bodies are checked before the walk's room and event (which name nothing).
    "client.upgrade_room": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"new_version": "11", "additional_creators": ["@someone:test.local"]},
        {"new_version": "string", "additional_creators": "strings"}, required=("new_version",),
        invalid=(Invalid("new_version", "999", 400, frozenset({"M_UNSUPPORTED_ROOM_VERSION"})),
                 Invalid("additional_creators", ["not-a-user-id"], 400, frozenset({"M_BAD_JSON"})),
                 Invalid("new_version", "11", 404, frozenset({"M_NOT_FOUND"})))),)),
    "client.report_event": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"reason": "walking", "score": -50}, {"reason": "string"},
        invalid=(Invalid("score", 1, 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("score", -101, 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("score", "-50", 400, frozenset({"M_BAD_JSON"})),
                 Invalid("reason", "walking", 404, frozenset({"M_NOT_FOUND"})))),)),
    "client.report_room": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"reason": "walking"}, {"reason": "string"}, required=("reason",),
        invalid=(Invalid("reason", "walking", 404, frozenset({"M_NOT_FOUND"})),)),)),
    "client.search": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"search_categories": {"room_events": {
            "search_term": "walk", "keys": ["content.body"], "order_by": "rank", "filter": {"limit": 5},
            "event_context": {"before_limit": 1, "after_limit": 1, "include_profile": True},
            "include_state": False, "groupings": {"group_by": [{"key": "room_id"}]}}}},
        {"search_categories": "object", "search_categories.room_events": "object",
         "search_categories.room_events.search_term": "string", "search_categories.room_events.keys": "strings",
         "search_categories.room_events.order_by": "string", "search_categories.room_events.filter": "object",
         "search_categories.room_events.event_context": "object",
         "search_categories.room_events.event_context.include_profile": "boolean",
         "search_categories.room_events.include_state": "boolean",
         "search_categories.room_events.groupings": "object"},
        required=("search_categories", "search_categories.room_events.search_term"),
        invalid=(Invalid("search_categories.room_events.order_by", "bogus", 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("search_categories.room_events.keys", ["content.url"], 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("search_categories.room_events.event_context.before_limit", -1, 400,
                         frozenset({"M_INVALID_PARAM"})),
                 Invalid("search_categories.room_events.filter.limit", -1, 400, frozenset({"M_BAD_JSON"})),
                 Invalid("search_categories.room_events.groupings.group_by", [{"key": "bogus"}], 400,
                         frozenset({"M_INVALID_PARAM"})))),)),
    # filter.yaml: every part of a filter is optional; what /sync could not use is refused at upload.
    "client.create_filter": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"room": {"timeline": {"limit": 5}, "state": {"lazy_load_members": True}}},
        {"event_fields": "strings", "event_format": "string", "presence": "object", "account_data": "object",
         "room": "object", "room.rooms": "strings", "room.not_rooms": "strings", "room.include_leave": "boolean",
         "room.timeline": "object", "room.timeline.types": "strings", "room.timeline.not_senders": "strings",
         "room.state": "object", "room.state.lazy_load_members": "boolean", "room.ephemeral": "object"},
        invalid=(Invalid("event_format", "bogus", 400, BAD_JSON),
                 Invalid("room.timeline.limit", -1, 400, BAD_JSON),
                 Invalid("room.timeline.limit", "5", 400, BAD_JSON))),)),
    "client.get_filter": Endpoint(auth=True),
    "client.sync": Endpoint(auth=True),
    "client.get_events": Endpoint(auth=True),
    "client.get_one_event": Endpoint(auth=True),
    "client.initial_sync": Endpoint(auth=True),
    "client.room_initial_sync": Endpoint(auth=True),
    # account-data.yaml and tags.yaml: any object is content; a tag's order must be a number.
    "client.set_account_data": Endpoint(auth=True, bodies=(BodySchema(lambda walker: {"walk": True}, {}),)),
    "client.get_account_data": Endpoint(auth=True),
    "client.set_room_account_data": Endpoint(auth=True, bodies=(BodySchema(lambda walker: {"walk": True}, {}),)),
    "client.get_room_account_data": Endpoint(auth=True),
    "client.get_room_tags": Endpoint(auth=True),
    "client.set_room_tag": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"order": 0.5}, {}, invalid=(Invalid("order", "first", 400, BAD_JSON),)),)),
    "client.delete_room_tag": Endpoint(auth=True),
    "client.search_user_directory": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"search_term": "walk", "limit": 5}, {"search_term": "string"}, required=("search_term",),
        invalid=(Invalid("limit", 0, 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("limit", "5", 400, BAD_JSON))),)),
    # to_device.yaml: messages maps user ids to device ids (or *) to content objects.
    "client.send_to_device": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"messages": {walker.user_id: {"*": {"walk": True}}}}, {"messages": "object"},
        required=("messages",),
        invalid=(Invalid("messages", {"not-a-user": {}}, 400, BAD_JSON),
                 Invalid("messages", {"@a:test.local": {"D": "text"}}, 400, BAD_JSON))),)),
    # typing.yaml: "typing" is required; "timeout" is an integer of milliseconds.
    "client.set_typing": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"typing": True, "timeout": 30000}, {"typing": "boolean"}, required=("typing",),
        invalid=(Invalid("timeout", "soon", 400, BAD_JSON), Invalid("timeout", 1.5, 400, BAD_JSON),
                 Invalid("timeout", -1, 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("typing", True, 403, FORBIDDEN))),)),
    # receipts.yaml: the optional thread_id is a non-empty string, not for m.fully_read; the walk's room is unknown.
    "client.post_receipt": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"thread_id": "main"}, {"thread_id": "string"},
        invalid=(Invalid("thread_id", "", 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("thread_id", "main", 404, frozenset({"M_NOT_FOUND"})))),)),
    # read_markers.yaml: three optional event ids. Their keys hold dots, which the walk's field paths cannot name;
    # tests/web/test_receipts.py refuses their wrong types instead.
    "client.set_read_marker": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"m.fully_read": "$nowhere", "m.read": "$nowhere"}, {},
        invalid=(Invalid("walk", True, 404, frozenset({"M_NOT_FOUND"})),)),)),
    # presence.yaml: "presence" is required and one of three states; "status_msg" is a string.
    "client.set_presence": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"presence": "online", "status_msg": "walking"}, {"presence": "string", "status_msg": "string"},
        required=("presence",), invalid=(Invalid("presence", "busy", 400, frozenset({"M_INVALID_PARAM"})),)),)),
    "client.get_presence": Endpoint(auth=True),
    # pushrules.yaml. "actions" is a list of strings and {"set_tweak": ...} objects; the walk's "strings" spoils
    # it the right ways (not a list, numbers, lists, a NUL). The walk's rule (override/walkrule) does not exist.
    "client.get_push_rules": Endpoint(auth=True),
    "client.get_notifications": Endpoint(auth=True),
    "client.ping_appservice": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"transaction_id": "walk"}, {"transaction_id": "string"},
        invalid=(Invalid("transaction_id", "walk", 403, frozenset({"M_FORBIDDEN"})),)),)),
    # thirdparty.yaml: no bodies; an unknown protocol is M_NOT_FOUND, answered by the walk's own checks.
    "client.get_protocols": Endpoint(auth=True),
    # appservice_room_directory.yaml: only an application service's token may use these (a user's gets 403).
    "client.set_network_room_visibility": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"visibility": "public"}, {"visibility": "string"}, required=("visibility",),
        invalid=(Invalid("visibility", "public", 403, frozenset({"M_FORBIDDEN"})),)),)),
    "client.delete_network_room": Endpoint(auth=True),
    "client.get_protocol": Endpoint(auth=True),
    "client.get_users": Endpoint(auth=True),
    "client.get_locations": Endpoint(auth=True),
    "client.get_user_by_id": Endpoint(auth=True),
    "client.get_location_by_alias": Endpoint(auth=True),
    "client.get_pushers": Endpoint(auth=True),
    "client.email_unsubscribe": Endpoint(auth=False),
    "client.post_pusher": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"kind": "http", "app_id": "walk.app", "pushkey": "walkkey", "app_display_name": "Walk",
                        "device_display_name": "Walker", "lang": "en", "profile_tag": "walk", "append": False,
                        "data": {"url": "https://push.example/_matrix/push/v1/notify"}},
        {"kind": "string", "app_id": "string", "pushkey": "string", "app_display_name": "string",
         "device_display_name": "string", "lang": "string", "profile_tag": "string", "append": "boolean",
         "data": "object", "data.url": "string"},
        required=("app_id", "pushkey", "app_display_name", "device_display_name", "lang", "data"),
        invalid=(Invalid("kind", "pigeon", 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("data.url", "ftp://push.example/_matrix/push/v1/notify", 400,
                         frozenset({"M_INVALID_PARAM"})),
                 Invalid("app_id", "a" * 65, 400, frozenset({"M_INVALID_PARAM"})))),)),
    "client.get_push_rules_global": Endpoint(auth=True),
    "client.get_push_rules_of_kind": Endpoint(auth=True),
    "client.refuse_push_rules_without_slash": Endpoint(auth=False),
    "client.refuse_push_rules_without_scope": Endpoint(auth=True),
    "client.refuse_scope_without_kind": Endpoint(auth=True),
    "client.refuse_kind_without_rule_id": Endpoint(auth=True),
    "client.refuse_malformed_push_rule_path": Endpoint(auth=True),
    "client.get_push_rule": Endpoint(auth=True),
    "client.set_push_rule": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"actions": ["notify", {"set_tweak": "sound", "value": "default"}], "pattern": "walk",
                        "conditions": [{"kind": "event_match", "key": "content.body", "pattern": "walk"}]},
        {"actions": "strings", "pattern": "string"}, required=("actions",),
        invalid=(Invalid("actions", ["ring"], 400, INVALID_PARAM),
                 Invalid("actions", [{"value": "default"}], 400, BAD_JSON),
                 Invalid("conditions", "everything", 400, BAD_JSON),
                 Invalid("conditions", [{"key": "type", "pattern": "x"}], 400, BAD_JSON),
                 Invalid("conditions", [{"kind": "event_match", "key": "type"}], 400, BAD_JSON),
                 Invalid("conditions", [{"kind": "room_member_count", "is": "many"}], 400, INVALID_PARAM),
                 Invalid("conditions", [{"kind": "event_property_is", "key": "k", "value": {}}], 400, BAD_JSON))),)),
    "client.delete_push_rule": Endpoint(auth=True),
    "client.is_push_rule_enabled": Endpoint(auth=True),
    "client.set_push_rule_enabled": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"enabled": False}, {"enabled": "boolean"}, required=("enabled",),
        invalid=(Invalid("enabled", True, 404, NOT_FOUND),)),)),
    "client.get_push_rule_actions": Endpoint(auth=True),
    "client.set_push_rule_actions": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"actions": ["notify"]}, {"actions": "strings"}, required=("actions",),
        invalid=(Invalid("actions", ["ring"], 400, INVALID_PARAM), Invalid("actions", [], 404, NOT_FOUND))),)),
    # keys.yaml. The walker's device keys are signed by the walker's device; one-time and fallback keys are
    # "<algorithm>:<key_id>" names for a string or a signed object.
    "client.upload_keys": Endpoint(auth=True, bodies=(BodySchema(
        _upload_keys_body,
        {"device_keys": "object", "device_keys.user_id": "string", "device_keys.device_id": "string",
         "device_keys.algorithms": "strings", "device_keys.keys": "object", "device_keys.signatures": "object",
         "one_time_keys": "object", "fallback_keys": "object"},
        invalid=(Invalid("device_keys.user_id", "@somebody-else:test.local", 400, BAD_JSON),
                 Invalid("device_keys.device_id", "OTHERDEVICE", 400, BAD_JSON),
                 Invalid("device_keys.signatures", {"@walker:test.local": {"ed25519:A": 5}}, 400, BAD_JSON),
                 Invalid("device_keys.keys", {"no_colon": "x"}, 400, BAD_JSON),
                 Invalid("one_time_keys", {"no_colon": "x"}, 400, BAD_JSON),
                 Invalid("one_time_keys", {"signed_curve25519:A": 5}, 400, BAD_JSON),
                 Invalid("one_time_keys", {"signed_curve25519:A": {"key": 5}}, 400, BAD_JSON),
                 Invalid("fallback_keys", {"a:1": "x", "a:2": "y"}, 400, BAD_JSON)),
    ),)),
    "client.query_keys": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"device_keys": {walker.user_id: []}, "timeout": 10000}, {"device_keys": "object"},
        required=("device_keys",),
        invalid=(Invalid("device_keys", {"not-a-user": []}, 400, BAD_JSON),
                 Invalid("device_keys", {"@a:test": "DEVICE"}, 400, BAD_JSON),
                 Invalid("device_keys", {"@a:test": [1]}, 400, BAD_JSON),
                 Invalid("timeout", "soon", 400, BAD_JSON)),
    ),)),
    "client.claim_keys": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"one_time_keys": {walker.user_id: {"NODEVICE": "signed_curve25519"}}, "timeout": 10000},
        {"one_time_keys": "object"}, required=("one_time_keys",),
        invalid=(Invalid("one_time_keys", {"not-a-user": {}}, 400, BAD_JSON),
                 Invalid("one_time_keys", {"@a:test": {"DEVICE": 1}}, 400, BAD_JSON),
                 Invalid("one_time_keys", {"@a:test": ["DEVICE"]}, 400, BAD_JSON),
                 Invalid("timeout", "soon", 400, BAD_JSON)),
    ),)),
    "client.get_key_changes": Endpoint(auth=True),
    # cross_signing.yaml. The walker's keys are the same on every call, so the accepted body is idempotent and
    # needs no UIA after the first; every spoiled one is refused before UIA is considered.
    "client.upload_cross_signing_keys": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: CrossSigning.stable(walker.user_id).upload_body(),
        {"master_key": "object", "master_key.user_id": "string", "master_key.usage": "strings",
         "master_key.keys": "object", "self_signing_key": "object", "self_signing_key.usage": "strings",
         "self_signing_key.signatures": "object", "user_signing_key": "object",
         "user_signing_key.user_id": "string"},
        invalid=(Invalid("master_key.user_id", "@somebody-else:test.local", 400, BAD_JSON),
                 Invalid("master_key.usage", ["self_signing"], 400, BAD_JSON),
                 Invalid("master_key.keys", {"ed25519:a": "b"}, 400, BAD_JSON),
                 Invalid("self_signing_key.signatures", {}, 400, frozenset({"M_INVALID_SIGNATURE"}))),
    ),)),
    # The body maps user ids (whose dots the walk's field paths cannot name) to key ids to signed objects.
    "client.upload_signatures": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {}, {},
        invalid=(Invalid("not-a-user", {}, 400, BAD_JSON), Invalid("@a:test", "signed", 400, BAD_JSON),
                 Invalid("@a:test", {"KEY": "signed"}, 400, BAD_JSON)),
    ),)),
    # key_backup.yaml. Bodies are checked before the (absent) version query parameter and backup are looked up.
    # auth_data that is not an object is opaque data, kept as Synapse keeps it (web/client/key_backup.py).
    "client.post_room_keys_version": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"algorithm": MEGOLM_BACKUP, "auth_data": {"public_key": "walk"}},
        {"algorithm": "string", "auth_data.public_key": "string"},
        required=("algorithm", "auth_data", "auth_data.public_key"),
        invalid=(Invalid("algorithm", "", 400, INVALID_PARAM),)),)),
    "client.get_room_keys_version_current": Endpoint(auth=True),
    "client.get_room_keys_version": Endpoint(auth=True),
    "client.put_room_keys_version": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"algorithm": MEGOLM_BACKUP, "auth_data": {"public_key": "walk"}, "version": "1"},
        {"algorithm": "string", "version": "string"}, required=("algorithm", "auth_data"),
        invalid=(Invalid("version", "2", 400, INVALID_PARAM), Invalid("version", "1", 404, NOT_FOUND))),)),
    "client.delete_room_keys_version": Endpoint(auth=True),
    "client.put_room_keys": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"rooms": {"!walkroom": {"sessions": {"walksession": _backed_up_key()}}}},
        {"rooms": "object"}, required=("rooms",),
        invalid=(Invalid("rooms", {"walk": {"sessions": {}}}, 400, BAD_JSON),
                 Invalid("rooms", {"!walkroom": {}}, 400, MISSING),
                 Invalid("rooms", {"!walkroom": {"sessions": {"s": {}}}}, 400, MISSING),
                 Invalid("rooms", {"!walkroom": {"sessions": {"s": 1}}}, 400, BAD_JSON))),)),
    "client.get_room_keys": Endpoint(auth=True),
    "client.delete_room_keys": Endpoint(auth=True),
    "client.put_room_keys_by_room_id": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"sessions": {"walksession": _backed_up_key()}}, {"sessions": "object"},
        required=("sessions",),
        invalid=(Invalid("sessions", {"s": {**_backed_up_key(), "forwarded_count": -1}}, 400, BAD_JSON),
                 Invalid("sessions", {"": _backed_up_key()}, 400, BAD_JSON))),)),
    "client.get_room_keys_by_room_id": Endpoint(auth=True),
    "client.delete_room_keys_by_room_id": Endpoint(auth=True),
    "client.put_room_key_by_session_id": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: _backed_up_key(), {"is_verified": "boolean"},
        required=("first_message_index", "forwarded_count", "is_verified", "session_data"),
        invalid=(Invalid("first_message_index", -1, 400, BAD_JSON),
                 Invalid("first_message_index", "1", 400, BAD_JSON),
                 Invalid("first_message_index", 1.5, 400, BAD_JSON),
                 Invalid("first_message_index", 2**53, 400, BAD_JSON),
                 Invalid("forwarded_count", True, 400, BAD_JSON),
                 Invalid("forwarded_count", None, 400, MISSING))),)),
    "client.get_room_key_by_session_id": Endpoint(auth=True),
    "client.delete_room_key_by_session_id": Endpoint(auth=True),
    # MSC3814: the device's keys are /keys/upload's, checked as that endpoint checks them, and required.
    "client.put_dehydrated_device": Endpoint(auth=True, bodies=(BodySchema(
        _dehydrated_device_body,
        {"device_id": "string", "device_data": "object", "device_data.algorithm": "string",
         "initial_device_display_name": "string", "device_keys": "object", "device_keys.user_id": "string",
         "device_keys.device_id": "string", "device_keys.algorithms": "strings", "device_keys.keys": "object",
         "device_keys.signatures": "object", "one_time_keys": "object", "fallback_keys": "object"},
        required=("device_id", "device_data", "device_data.algorithm", "device_keys"),
        invalid=(Invalid("device_id", "", 400, INVALID_PARAM),
                 Invalid("device_id", "x" * 256, 400, BAD_JSON),
                 Invalid("device_data.algorithm", "", 400, INVALID_PARAM),
                 Invalid("device_keys.user_id", "@someone:test.local", 400, BAD_JSON),
                 Invalid("device_keys.device_id", "OTHER", 400, BAD_JSON),
                 Invalid("device_keys.signatures", {"@walker:test.local": {"ed25519:A": 5}}, 400, BAD_JSON),
                 Invalid("one_time_keys", {"signed_curve25519:A": 1}, 400, BAD_JSON),
                 Invalid("fallback_keys", {"a:1": "x", "a:2": "y"}, 400, BAD_JSON))),)),
    "client.get_dehydrated_device": Endpoint(auth=True),
    # MSC4186 (simplified sliding sync): every part is optional; shapes are M_BAD_JSON, as Synapse answers.
    "client.simplified_sliding_sync": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"conn_id": "walk", "lists": {"all": {
            "ranges": [[0, 9]], "timeline_limit": 1, "required_state": [["m.room.name", ""]],
            "filters": {"is_dm": False, "tags": ["m.favourite"]}}},
            "room_subscriptions": {"!walkroom": {"timeline_limit": 1}},
            "extensions": {"e2ee": {"enabled": True}, "to_device": {"enabled": True, "lists": ["all"]}}},
        {"conn_id": "string", "lists": "object", "lists.all": "object", "lists.all.filters": "object",
         "lists.all.filters.is_dm": "boolean", "lists.all.filters.tags": "strings", "room_subscriptions": "object",
         "room_subscriptions.!walkroom": "object", "extensions": "object", "extensions.e2ee": "object",
         "extensions.e2ee.enabled": "boolean", "extensions.to_device.lists": "strings"},
        invalid=(Invalid("conn_id", "x" * 300, 400, BAD_JSON),
                 Invalid("lists.all.ranges", [[5, 1]], 400, BAD_JSON),
                 Invalid("lists.all.ranges", [[-1, 1]], 400, BAD_JSON),
                 Invalid("lists.all.timeline_limit", -1, 400, BAD_JSON),
                 Invalid("lists.all.timeline_limit", "1", 400, BAD_JSON),
                 Invalid("lists.all.required_state", [["m.room.name"]], 400, BAD_JSON),
                 Invalid("room_subscriptions", {"not a room id": {}}, 400, BAD_JSON),
                 Invalid("extensions.to_device.since", "not a token", 400, INVALID_PARAM)),
    ),)),
    "client.delete_dehydrated_device": Endpoint(auth=True),
    "client.get_dehydrated_device_events": Endpoint(auth=True, body_optional=True, bodies=(BodySchema(
        lambda walker: {}, {"next_batch": "string"},
        invalid=(Invalid("next_batch", "bogus", 400, INVALID_PARAM),
                 Invalid("next_batch", "g" + "A" * 5000, 400, BAD_JSON))),)),
    # The content repository: uploads are raw bytes, not JSON, and the admin actions read no body.
    "media.upload_content": Endpoint(auth=True),
    "media.upload_content_to_mxc": Endpoint(auth=True),
    "media.create_content": Endpoint(auth=True),
    "media.get_content": Endpoint(auth=False),
    "media.get_content_named": Endpoint(auth=False),
    "media.get_content_authenticated": Endpoint(auth=True),
    "media.get_content_authenticated_named": Endpoint(auth=True),
    "media.get_config": Endpoint(auth=True),
    "media.get_thumbnail": Endpoint(auth=False),
    "media.get_thumbnail_authenticated": Endpoint(auth=True),
    "media.get_url_preview": Endpoint(auth=True),
    **{f"media.admin_{name}": Endpoint(auth=True) for name in (
        "list_media_in_room", "quarantine_media_in_room", "quarantine_media_in_room_deprecated",
        "quarantine_media_of_user", "quarantine_media", "unquarantine_media", "protect_media", "unprotect_media",
        "get_media_info", "delete_media", "delete_media_before", "delete_media_before_on_server",
        "purge_media_cache", "list_media_of_user", "delete_media_of_user", "list_media_of_user_singular",
        "delete_media_of_user_singular")},
    "wellknown.get_wellknown_client": Endpoint(auth=False),
    "wellknown.get_wellknown_server": Endpoint(auth=False),
    "admin.get_nonce": Endpoint(auth=False),
    "admin.register_with_shared_secret": Endpoint(auth=False, bodies=(BodySchema(
        _admin_register_body,
        {"nonce": "string", "username": "string", "password": "string", "admin": "boolean", "user_type": "string",
         "displayname": "string", "mac": "string"},
        required=("nonce", "username", "password", "mac"),
        invalid=(Invalid("user_type", "superuser", 400),
                 Invalid("username", "Bad Name", 400, INVALID_USERNAME),
                 Invalid("mac", "0" * 40, 403, FORBIDDEN)),
    ),)),
}
# An endpoint not described yet is still walked, assuming the commonest shape: a token and a JSON object body.
UNDESCRIBED = Endpoint(auth=True, bodies=(BodySchema(lambda walker: {}, {}),))


def path_values(walker: Walker) -> dict[str, str]:
    """Plausible values for path variables: the walker's own user id, their spare device, a real field."""
    return {"user_id": walker.user_id, "device_id": walker.spare_device_id, "field": "displayname",
            "room_id": "!nowhere:test.local", "event_type": "m.room.message", "txn_id": "walk1", "state_key": "",
            "event_id": "$nowhere", "rel_type": "m.annotation", "key_id": "ed25519:walk",
            "room_alias": "#nowhere:test.local", "filter_id": "0", "tag": "u.walk", "receipt_type": "m.read",
            "kind": "override", "rule_id": "walkrule", "version": "1", "session_id": "walksession",
            "rest": "global/override/walkrule/walkattribute",
            "server_name": "test.local", "media_id": "walkmedia", "file_name": "walk.txt",
            "appservice_id": "walkbridge", "protocol": "walkprotocol",
            "network_id": "walknetwork"}


PATH_VARIABLES = {"user_id", "device_id", "field", "room_id", "event_type", "txn_id", "state_key", "event_id",
                  "rel_type", "key_id", "room_alias", "filter_id", "tag", "receipt_type", "kind", "rule_id",
                  "version", "session_id", "rest", "server_name", "media_id", "file_name", "appservice_id",
                  "protocol", "network_id"}
