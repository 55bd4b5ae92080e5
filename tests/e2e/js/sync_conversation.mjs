// A matrix-js-sdk conversation for Ganglion's e2e tests: two clients run the SDK's own sync loop against the
// server at argv[2] and must see each other's invites, joins, messages, typing, read receipts, account data and
// to-device messages.
// Prints one line, "RESULT " and JSON of what it observed; exits non-zero (with the reason) on any failure or timeout.
import * as sdk from "matrix-js-sdk";

import { register, run, started, waitFor } from "./clients.mjs";

const baseUrl = process.argv[2];
const suffix = process.argv[3] ?? String(Date.now());

function bodies(client, roomId) {
  return client.getRoom(roomId)?.getLiveTimeline().getEvents()
    .filter((event) => event.getType() === "m.room.message").map((event) => event.getContent().body) ?? [];
}

const alice = await started(await register(baseUrl, `jsalice${suffix}`));
const bob = await started(await register(baseUrl, `jsbob${suffix}`));
await run(() => [alice, bob], async (observed) => {
  const { room_id: roomId } = await alice.createRoom({ name: "JS room", invite: [bob.getUserId()] });
  await waitFor("bob's invite", () => bob.getRoom(roomId)?.getMyMembership() === "invite");
  observed.invitedRoomName = bob.getRoom(roomId).name;
  await bob.joinRoom(roomId);
  await waitFor("bob's join", () => bob.getRoom(roomId)?.getMyMembership() === "join");
  await waitFor("alice seeing bob join", () => alice.getRoom(roomId)?.getJoinedMemberCount() === 2);
  await alice.sendTextMessage(roomId, "hello from js");
  await waitFor("bob receiving the message", () => bodies(bob, roomId).includes("hello from js"));
  await bob.sendTextMessage(roomId, "hello back");
  await waitFor("alice receiving the reply", () => bodies(alice, roomId).includes("hello back"));
  await waitFor("bob's own message confirmed", () => bob.getRoom(roomId).getLiveTimeline().getEvents()
    .some((event) => event.getContent().body === "hello back" && !event.isSending() && event.getId().startsWith("$")));
  observed.bobTimeline = bodies(bob, roomId);
  observed.aliceTimeline = bodies(alice, roomId);
  await alice.sendTyping(roomId, true, 30000);
  await waitFor("bob seeing alice type", () => bob.getRoom(roomId).getMember(alice.getUserId())?.typing);
  observed.typing = true;
  const hello = alice.getRoom(roomId).getLiveTimeline().getEvents()
    .find((event) => event.getContent().body === "hello back");
  await alice.sendReadReceipt(hello);
  await waitFor("bob seeing alice's read receipt", () => bob.getRoom(roomId)
    .getUsersReadUpTo(bob.getRoom(roomId).findEventById(hello.getId())).includes(alice.getUserId()));
  observed.receipt = true;
  await alice.setAccountData("org.example.js", { ok: true });
  await waitFor("account data coming back", () => alice.getAccountData("org.example.js")?.getContent().ok);
  observed.accountData = true;
  const pings = [];
  bob.on(sdk.ClientEvent.ToDeviceEvent, (event) => {
    if (event.getType() === "org.example.ping") pings.push(event.getContent());
  });
  await alice.sendToDevice("org.example.ping",
    new Map([[bob.getUserId(), new Map([[bob.getDeviceId(), { n: 1 }]])]]));
  await waitFor("bob's to-device message", () => pings.length === 1);
  observed.toDevice = pings;
});
