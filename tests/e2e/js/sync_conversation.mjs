// A matrix-js-sdk conversation for Ganglion's e2e tests: two clients run the SDK's own sync loop against the
// server at argv[2] and must see each other's invites, joins, messages, typing, read receipts, account data and
// to-device messages.
// Prints one line, "RESULT " and JSON of what it observed; exits non-zero (with the reason) on any failure or timeout.
import * as sdk from "matrix-js-sdk";

// matrix-js-sdk 37 calls Promise.withResolvers (Node 22); this machine's Node is 20, so supply it.
if (!Promise.withResolvers) {
  Promise.withResolvers = () => {
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  };
}

const baseUrl = process.argv[2];
const suffix = process.argv[3] ?? String(Date.now());
const STEP_TIMEOUT_MS = 20000;

function waitFor(what, probe) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      let value;
      try { value = probe(); } catch (error) { value = undefined; }
      if (value) return resolve(value);
      if (Date.now() - started > STEP_TIMEOUT_MS) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 50);
    };
    tick();
  });
}

async function register(name) {
  const anonymous = sdk.createClient({ baseUrl });
  const registered = await anonymous.registerRequest({
    username: name, password: "pw", auth: { type: "m.login.dummy" },
  });
  return sdk.createClient({
    baseUrl, accessToken: registered.access_token, userId: registered.user_id, deviceId: registered.device_id,
  });
}

async function started(client) {
  const ready = new Promise((resolve, reject) => {
    client.on(sdk.ClientEvent.Sync, (state, _previous, data) => {
      if (state === "PREPARED") resolve();
      if (state === "ERROR") reject(new Error(`sync failed: ${data?.error?.message}`));
    });
  });
  await client.startClient({ initialSyncLimit: 10 });
  await ready;
  return client;
}

function bodies(client, roomId) {
  return client.getRoom(roomId)?.getLiveTimeline().getEvents()
    .filter((event) => event.getType() === "m.room.message").map((event) => event.getContent().body) ?? [];
}

const alice = await started(await register(`jsalice${suffix}`));
const bob = await started(await register(`jsbob${suffix}`));
const observed = {};
try {
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
  console.log(`RESULT ${JSON.stringify(observed)}`);
} catch (error) {
  console.error(error?.stack ?? String(error));
  process.exitCode = 1;
} finally {
  alice.stopClient();
  bob.stopClient();
}
process.exit(process.exitCode ?? 0);
