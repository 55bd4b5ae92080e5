// matrix-js-sdk's SlidingSync, which speaks simplified sliding sync (MSC4186, org.matrix.simplified_msc3575), against
// the server at argv[2]: bob runs it with the SDK's Rust crypto, alice runs /sync. Bob's list shows only the most
// recent room, as a room list's first screen does: he sees alice's invite there, joins, receives and decrypts her
// encrypted message, sees her typing and her read receipt, then opens (subscribes to) a room outside the window
// and receives its history. Crypto stores are in memory (useIndexedDB: false).
// Prints one line, "RESULT " and JSON of what it observed; exits non-zero (with the reason) on any failure or timeout.
import * as sdk from "matrix-js-sdk";
import { SlidingSync } from "matrix-js-sdk/lib/sliding-sync.js";

import { register, run, started, waitFor, within } from "./clients.mjs";

const baseUrl = process.argv[2];
const suffix = process.argv[3] ?? String(Date.now());
const ENCRYPTION = { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } };
const SECRET = "a secret over sliding sync";
const HISTORY = ["history 0", "history 1", "history 2", "history 3", "history 4"];
// What Element X asks of each room in its room list: a little of its state, the latest event, and its senders'
// memberships (lazy-loaded).
const ROOM_LIST = {
  ranges: [[0, 0]], timeline_limit: 1,
  required_state: [["m.room.name", ""], ["m.room.encryption", ""], ["m.room.member", "$ME"],
    ["m.room.member", "$LAZY"], ["m.room.create", ""], ["m.room.power_levels", ""], ["m.room.history_visibility", ""]],
};
// What opening a room asks for.
const OPENED_ROOM = { timeline_limit: 20, required_state: [["*", "*"]] };

function bodies(client, roomId) {
  return client.getRoom(roomId)?.getLiveTimeline().getEvents()
    .filter((event) => event.getType() === "m.room.message").map((event) => event.getContent().body) ?? [];
}

async function slidingClient(client) {
  await within("bob's initRustCrypto", client.initRustCrypto({ useIndexedDB: false }));
  const slidingSync = new SlidingSync(baseUrl, new Map([["all", ROOM_LIST]]), OPENED_ROOM, client, 10000);
  const ready = new Promise((resolve, reject) => {
    client.on(sdk.ClientEvent.Sync, (state, _previous, data) => {
      if (state === "PREPARED") resolve();
      if (state === "ERROR") reject(new Error(`sliding sync failed: ${data?.error?.message}`));
    });
  });
  await client.startClient({ slidingSync });
  await within("bob's first sliding sync", ready);
  return slidingSync;
}

const alice = await register(baseUrl, `ssalice${suffix}`);
await within("alice's initRustCrypto", alice.initRustCrypto({ useIndexedDB: false }));
await started(alice);
const bob = await register(baseUrl, `ssbob${suffix}`);
let slidingSync;
await run(() => [alice, bob], async (observed) => {
  const { room_id: historyId } = await alice.createRoom({ name: "History room", invite: [bob.getUserId()] });
  await bob.http.authedRequest(sdk.Method.Post, `/rooms/${encodeURIComponent(historyId)}/join`, undefined, {});
  for (const body of HISTORY) await alice.sendTextMessage(historyId, body);
  const { room_id: roomId } = await alice.createRoom({
    name: "Sliding room", invite: [bob.getUserId()], initial_state: [ENCRYPTION],
  });

  slidingSync = await slidingClient(bob);
  await waitFor("bob's invite in his room list", () => bob.getRoom(roomId)?.getMyMembership() === "invite");
  observed.invitedRoomName = bob.getRoom(roomId).name;
  observed.listCount = slidingSync.getListData("all")?.joinedCount;
  observed.historyRoomListed = bob.getRoom(historyId) !== null;
  await bob.joinRoom(roomId);
  await waitFor("bob's join", () => bob.getRoom(roomId)?.getMyMembership() === "join");
  await waitFor("alice seeing bob join", () => alice.getRoom(roomId)?.getJoinedMemberCount() === 2);
  await waitFor("alice seeing bob's device", async () => {
    const devices = await alice.getCrypto().getUserDeviceInfo([bob.getUserId()], true);
    return devices.get(bob.getUserId())?.has(bob.getDeviceId());
  });

  const { event_id: secretId } = await alice.sendTextMessage(roomId, SECRET);
  const secret = await waitFor("bob decrypting alice's message", () => {
    const event = bob.getRoom(roomId)?.getLiveTimeline().getEvents().find((found) => found.getId() === secretId);
    return event && !event.isBeingDecrypted() && !event.shouldAttemptDecryption() ? event : undefined;
  });
  observed.encryptedOnTheWire = secret.getWireType() === "m.room.encrypted";
  observed.decrypted = secret.isDecryptionFailure() ? null : secret.getContent().body;

  await alice.sendTyping(roomId, true, 30000);
  await waitFor("bob seeing alice type", () => bob.getRoom(roomId).getMember(alice.getUserId())?.typing);
  observed.typing = true;
  await alice.sendReadReceipt(alice.getRoom(roomId).findEventById(secretId));
  await waitFor("bob seeing alice's read receipt", () => bob.getRoom(roomId)
    .getUsersReadUpTo(bob.getRoom(roomId).findEventById(secretId)).includes(alice.getUserId()));
  observed.receipt = true;

  slidingSync.modifyRoomSubscriptions(new Set([historyId]));
  await waitFor("bob opening the history room", () => bodies(bob, historyId).length === HISTORY.length);
  observed.openedHistory = bodies(bob, historyId);
  observed.openedRoomName = bob.getRoom(historyId).name;
});
