// What Ganglion's matrix-js-sdk conversations share: accounts and started clients, bounded waits, and the one
// RESULT line a pytest module reads (tests/e2e/js_conversations.py).
import * as sdk from "matrix-js-sdk";

// matrix-js-sdk 37 calls Promise.withResolvers (Node 22); this machine's Node is 20, so supply it.
if (!Promise.withResolvers) {
  Promise.withResolvers = () => {
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  };
}

export const PASSWORD = "pw";
export const STEP_TIMEOUT_MS = 20000;

/** Resolves with probe()'s first truthy value, polled every 50 ms; rejects naming `what` after `timeoutMs`. */
export function waitFor(what, probe, timeoutMs = STEP_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = async () => {
      let value;
      try { value = await probe(); } catch (error) { value = undefined; }
      if (value) return resolve(value);
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 50);
    };
    tick();
  });
}

/** `promise`, or a rejection naming `what` if it has not settled after `timeoutMs`: no step can hang. */
export function within(what, promise, timeoutMs = STEP_TIMEOUT_MS) {
  let timer;
  const expired = new Promise((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), timeoutMs);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Registers `name` (password PASSWORD, m.login.dummy) and returns a client for the new account's device. */
export async function register(baseUrl, name, clientOptions = {}) {
  const anonymous = sdk.createClient({ baseUrl });
  const registered = await within(`registering ${name}`, anonymous.registerRequest({
    username: name, password: PASSWORD, auth: { type: "m.login.dummy" },
  }));
  return sdk.createClient({
    baseUrl, accessToken: registered.access_token, userId: registered.user_id, deviceId: registered.device_id,
    ...clientOptions,
  });
}

/** Logs `userId` in with its password as a new device and returns a client for that device. */
export async function logIn(baseUrl, userId, clientOptions = {}) {
  const anonymous = sdk.createClient({ baseUrl });
  const loggedIn = await within(`logging ${userId} in`, anonymous.loginRequest({
    type: "m.login.password", identifier: { type: "m.id.user", user: userId }, password: PASSWORD,
  }));
  return sdk.createClient({
    baseUrl, accessToken: loggedIn.access_token, userId: loggedIn.user_id, deviceId: loggedIn.device_id,
    ...clientOptions,
  });
}

/** Starts the SDK's sync loop as Element runs it, with lazy-loaded members (so the SDK asks /members?at= its sync
 * token before sharing a room key), and resolves once the first sync is processed (PREPARED). */
export async function started(client, initialSyncLimit = 10) {
  const ready = new Promise((resolve, reject) => {
    client.on(sdk.ClientEvent.Sync, (state, _previous, data) => {
      if (state === "PREPARED") resolve();
      if (state === "ERROR") reject(new Error(`sync failed: ${data?.error?.message}`));
    });
  });
  await client.startClient({ initialSyncLimit, lazyLoadMembers: true });
  await within(`${client.getUserId()}/${client.getDeviceId()}'s first sync`, ready);
  return client;
}

/** Runs `conversation(observed)`, prints "RESULT " and the JSON it observed, stops `clients()` and exits: non-zero,
 * with the reason on stderr, on any failure or timeout. */
export async function run(clients, conversation) {
  const observed = {};
  try {
    await conversation(observed);
    console.log(`RESULT ${JSON.stringify(observed)}`);
  } catch (error) {
    console.error(error?.stack ?? String(error));
    console.error(`observed so far: ${JSON.stringify(observed)}`);
    process.exitCode = 1;
  } finally {
    for (const client of clients()) client.stopClient();
  }
  process.exit(process.exitCode ?? 0);
}
