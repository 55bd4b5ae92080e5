"""matrix-js-sdk with its Rust crypto (matrix-sdk-crypto-wasm, from npm), syncing with lazy-loaded members as
Element does, against every shape (tests/e2e/js/crypto_conversation.mjs): cross-signing bootstrap (and a reset the
server guards with UIA), an encrypted conversation both ways of which the server stores only ciphertext, emoji
verification between the two users (each signs the other's master key), and a key backup round trip in which a
new device restores, with the recovery key from secret storage, the room keys it could not otherwise have (and
cross-signs itself with the cross-signing keys kept there)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.js_conversations import run_conversation
from tests.e2e.servers import E2E_SHAPES, RunningServer, query, serving

pytestmark = pytest.mark.e2e
CONVERSATION_TIMEOUT = 120
HELLO, REPLY = "hello bob, this is secret", "hello alice, secret too"
BACKUP_ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"
SECRETS = ("m.megolm_backup.v1", "m.cross_signing.master", "m.cross_signing.self_signing",
           "m.cross_signing.user_signing")
COMPLETE = {"ready": True, "publicKeysOnDevice": True, "privateKeysCached": True, "deviceCrossSigned": True}
"""What the SDK reports of a device whose user's cross-signing is set up, its private keys cached, and which the
self-signing key has signed."""


@pytest.fixture(scope="module", params=E2E_SHAPES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serving(request, tmp_path_factory, "js-crypto") as running:
        yield running


@pytest.fixture(scope="module")
def observed(server: RunningServer) -> dict[str, Any]:
    """One conversation per shape; each test below reads the part it is about."""
    return run_conversation("crypto_conversation.mjs", server, CONVERSATION_TIMEOUT)


def _decrypted(body: str) -> dict[str, Any]:
    return {"encryptedOnTheWire": True, "failed": False, "body": body}


def test_cross_signing_is_bootstrapped_and_each_user_sees_the_others_master_key(observed: dict[str, Any]) -> None:
    # The first master key needs no UIA; replacing it does ("POST /keys/device_signing/upload").
    assert observed["uia"]["aliceFirst"] == {"uiaAsked": False}
    assert observed["uia"]["bobFirst"] == {"uiaAsked": False}
    assert observed["uia"]["bobReset"] == {"uiaAsked": True, "uiaFlows": [["m.login.password"]]}
    assert observed["bobMasterKeyReplaced"] is True
    assert observed["crossSigning"] == {"alice": COMPLETE, "bob": COMPLETE}
    assert observed["aliceSeesBobsMasterKey"] == {"hasKeys": True, "matches": True}
    assert observed["bobSeesAlicesMasterKey"] == {"hasKeys": True, "matches": True}


def test_encrypted_messages_both_ways_and_only_ciphertext_on_the_server(server: RunningServer,
                                                                        observed: dict[str, Any]) -> None:
    assert observed["roomEncrypted"] is True
    assert observed["membersLoadedFromServer"] == [True, True], "as Element runs it: lazy-loaded members"
    assert observed["bobReceived"] == _decrypted(HELLO)
    assert observed["aliceReceived"] == _decrypted(REPLY)
    room_id = observed["roomId"]
    for event_id in observed["eventIds"]:
        [(event_type, event_json)] = query(server, "SELECT type, json FROM events WHERE event_id = :event_id",
                                           event_id=event_id)
        content = json.loads(event_json)["content"]
        assert event_type == "m.room.encrypted"
        assert content["algorithm"] == "m.megolm.v1.aes-sha2" and content["ciphertext"]
    # (matrix-js-sdk sends the in-room verification events of the next test unencrypted.)
    plaintext = query(server, "SELECT count(*) FROM events WHERE room_id = :room_id "
                              "AND (json LIKE :hello OR json LIKE :reply)",
                      room_id=room_id, hello=f"%{HELLO}%", reply=f"%{REPLY}%")
    assert plaintext == [(0,)], "no plaintext reached the server"


def test_users_verify_each_other_with_emoji_and_their_signatures_reach_the_server(
        server: RunningServer, observed: dict[str, Any]) -> None:
    assert observed["sasEmojiMatch"] is True, "both sides derived the same seven emoji"
    assert observed["verified"] == {"aliceVerifiedBob": True, "bobVerifiedAlice": True}
    alice, bob = observed["aliceUserId"], observed["bobUserId"]
    for signer, target in ((alice, bob), (bob, alice)):
        [(key_id, master_key)] = query(server, "SELECT key_id, target_device_id FROM e2e_cross_signing_signatures "
                                               "WHERE user_id = :signer AND target_user_id = :target",
                                       signer=signer, target=target)
        assert key_id == f"ed25519:{observed['userSigningKeys'][signer]}", "signed with the user-signing key"
        assert master_key == observed["masterKeys"][target]


def test_a_new_device_restores_the_key_backup_and_decrypts_the_history(server: RunningServer,
                                                                       observed: dict[str, Any]) -> None:
    backup = observed["backup"]
    assert backup["algorithm"] == BACKUP_ALGORITHM and backup["trusted"] is True
    assert backup["count"] >= 2, "alice's outbound session and bob's inbound one"
    version, alice = int(backup["version"]), observed["aliceUserId"]
    [(stored_count,)] = query(server, "SELECT key_count FROM room_key_backup_versions WHERE user_id = :user_id "
                                      "AND version = :version AND NOT deleted", user_id=alice, version=version)
    sessions = query(server, "SELECT room_id, session_data FROM room_key_backup_keys WHERE user_id = :user_id "
                             "AND version = :version", user_id=alice, version=version)
    assert stored_count == len(sessions) >= 2
    assert {room_id for room_id, _ in sessions} == {observed["roomId"]}
    for _, session_data in sessions:
        assert set(json.loads(session_data)) == {"ephemeral", "ciphertext", "mac"}
    # The backup key and the cross-signing keys travel in secret storage: account data, each encrypted with the
    # recovery key.
    stored = dict(query(server, "SELECT type, content FROM account_data WHERE user_id = :user_id AND room_id = ''",
                        user_id=alice))
    key_id = json.loads(stored["m.secret_storage.default_key"])["key"]
    assert json.loads(stored[f"m.secret_storage.key.{key_id}"])["algorithm"] == "m.secret_storage.v1.aes-hmac-sha2"
    for secret in SECRETS:
        assert set(json.loads(stored[secret])["encrypted"]) == {key_id}, secret

    assert observed["secretStorageReady"] is True
    assert observed["newDevice"] is True
    failed = {"encryptedOnTheWire": True, "failed": True, "body": None}
    assert observed["newDeviceBefore"] == [failed, failed], "without the backup the new device has no room keys"
    assert observed["restored"]["imported"] == observed["restored"]["total"] == len(sessions)
    assert observed["newDeviceAfter"] == [_decrypted(HELLO), _decrypted(REPLY)]
    assert observed["newDeviceSeesCrossSigning"] is True
    assert observed["newDeviceCrossSigning"] == COMPLETE, "the new device cross-signed itself from secret storage"
    assert observed["newDeviceTrustsBackup"] is True
