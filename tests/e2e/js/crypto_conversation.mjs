// matrix-js-sdk with its Rust crypto (matrix-sdk-crypto-wasm) against the server at argv[2], in three acts:
// 1. alice and bob bootstrap cross-signing (bob then resets his, which the server guards with UIA) and each sees the
//    other's master key through /keys/query;
// 2. in an encrypted room alice and bob each decrypt what the other sent, then verify each other with emoji (SAS);
// 3. alice sets up secret storage and a key backup, her room keys reach /room_keys, and a new device of hers, which
//    cannot decrypt the conversation, restores the backup with her recovery key and then can; with the same key it
//    takes her cross-signing keys from secret storage and cross-signs itself.
// Crypto stores are in memory (useIndexedDB: false), so a new client is a new device with no keys.
// Prints one line, "RESULT " and JSON of what it observed; exits non-zero (with the reason) on any failure or timeout.
import * as sdk from "matrix-js-sdk";
import {
  CrossSigningKey, CryptoEvent, VerificationPhase, VerifierEvent, decodeRecoveryKey,
} from "matrix-js-sdk/lib/crypto-api/index.js";

import { PASSWORD, logIn, register, run, started, waitFor, within } from "./clients.mjs";

const baseUrl = process.argv[2];
const suffix = process.argv[3] ?? String(Date.now());
const ENCRYPTION = { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } };
const HELLO = "hello bob, this is secret";
const REPLY = "hello alice, secret too";

/** Secret-storage keys a device knows (its user's recovery key), answered to the SDK's cryptoCallbacks. */
class SecretStorageKeys {
  constructor() { this.keys = new Map(); }

  callbacks() {
    return {
      getSecretStorageKey: async ({ keys }) => {
        const known = Object.keys(keys).find((keyId) => this.keys.has(keyId));
        return known === undefined ? null : [known, this.keys.get(known)];
      },
      cacheSecretStorageKey: (keyId, _keyInfo, key) => { this.keys.set(keyId, key); },
    };
  }
}

/** A client for a new device whose Rust crypto keeps its store in memory; `secretStorageKeys` serves its
 * cryptoCallbacks. `beforeSync(client)` runs between initRustCrypto and the first sync. */
async function cryptoClient(makeClient, { secretStorageKeys = new SecretStorageKeys(), beforeSync } = {}) {
  const client = await makeClient({ cryptoCallbacks: secretStorageKeys.callbacks() });
  await within("initRustCrypto", client.initRustCrypto({ useIndexedDB: false }));
  await beforeSync?.(client);
  return started(client, 50);  // the new device must see the whole conversation in its first sync
}

/** bootstrapCrossSigning's UIA answer: try without auth, and if the server asks (401 with flows), answer with the
 * password in the session it opened. Records whether it asked. */
function passwordAuth(client, record) {
  return async (makeRequest) => {
    try {
      await makeRequest(null);
      record.uiaAsked = false;
    } catch (error) {
      if (error?.httpStatus !== 401 || !error?.data?.flows) throw error;
      record.uiaAsked = true;
      record.uiaFlows = error.data.flows.map((flow) => flow.stages);
      await makeRequest({
        type: "m.login.password", identifier: { type: "m.id.user", user: client.getUserId() }, password: PASSWORD,
        session: error.data.session,
      });
    }
  };
}

async function crossSigningReport(client) {
  const crypto = client.getCrypto();
  const status = await crypto.getCrossSigningStatus();
  const device = await crypto.getDeviceVerificationStatus(client.getUserId(), client.getDeviceId());
  return {
    ready: await crypto.isCrossSigningReady(),
    publicKeysOnDevice: status.publicKeysOnDevice,
    privateKeysCached: Object.values(status.privateKeysCachedLocally).every(Boolean),
    deviceCrossSigned: Boolean(device?.crossSigningVerified),
  };
}

/** What `client` learns of `other`'s master key through /keys/query, next to the key `other` holds itself. */
async function masterKeySeen(client, other) {
  const hasKeys = await within("userHasCrossSigningKeys",
    client.getCrypto().userHasCrossSigningKeys(other.getUserId(), true));
  const queried = await within("/keys/query", client.downloadKeysForUsers([other.getUserId()]));
  const own = await other.getCrypto().getCrossSigningKeyId(CrossSigningKey.Master);
  const seen = Object.values(queried.master_keys?.[other.getUserId()]?.keys ?? {});
  return { hasKeys, matches: own !== null && seen.includes(own) };
}

function timelineEvent(client, roomId, eventId) {
  return client.getRoom(roomId)?.getLiveTimeline().getEvents().find((event) => event.getId() === eventId);
}

/** Waits until `client` has `eventId` in its timeline and has tried to decrypt it; returns what it found. */
async function decrypted(client, roomId, eventId, what) {
  const event = await waitFor(what, () => {
    const found = timelineEvent(client, roomId, eventId);
    return found && !found.isBeingDecrypted() && !found.shouldAttemptDecryption() ? found : undefined;
  });
  return {
    encryptedOnTheWire: event.getWireType() === "m.room.encrypted",
    failed: event.isDecryptionFailure(),
    body: event.isDecryptionFailure() ? null : event.getContent().body,
  };
}

async function until(client, roomId, eventId, body, what) {
  await waitFor(what, () => timelineEvent(client, roomId, eventId)?.getContent().body === body);
  return decrypted(client, roomId, eventId, what);
}

/** Alice verifies bob with emoji (SAS) over the encrypted room, both confirming what they see: each then signs the
 * other's master key with their user-signing key. Returns the emoji each side was shown. */
async function verifyWithEmoji(alice, bob, roomId) {
  const incoming = new Promise((resolve) => bob.on(CryptoEvent.VerificationRequestReceived, resolve));
  const aliceRequest = await within("requestVerificationDM",
    alice.getCrypto().requestVerificationDM(bob.getUserId(), roomId));
  const bobRequest = await within("bob receiving the verification request", incoming);
  await within("bob accepting the request", bobRequest.accept());
  await waitFor("the request being ready", () => aliceRequest.phase === VerificationPhase.Ready);
  const aliceVerifier = await within("starting SAS", aliceRequest.startVerification("m.sas.v1"));
  const bobVerifier = await waitFor("bob's side of SAS", () => bobRequest.verifier);
  const shown = (verifier) => new Promise((resolve) => {
    const confirm = (sas) => {
      resolve(sas.sas.emoji.map(([emoji]) => emoji));
      sas.confirm();
    };
    const ready = verifier.getShowSasCallbacks();
    if (ready) confirm(ready); else verifier.once(VerifierEvent.ShowSas, confirm);
  });
  const emoji = Promise.all([shown(aliceVerifier), shown(bobVerifier)]);
  await within("both sides finishing SAS", Promise.all([aliceVerifier.verify(), bobVerifier.verify()]));
  return emoji;
}

async function currentBackup(client) {
  return client.http.authedRequest(sdk.Method.Get, "/room_keys/version");
}

const aliceUia = {}, bobUia = {}, bobResetUia = {};
let bobFirstMaster;
const alice = await cryptoClient((options) => register(baseUrl, `cryptoalice${suffix}`, options));
// Bob sets up cross-signing and at once resets it (as "reset your identity" does), which replaces his master key
// and so needs UIA. He does both before his sync loop starts: a /keys/query the loop sends while the new keys are
// being uploaded would answer the old ones and make the SDK drop its new private keys (the SDK's reset is not
// atomic, see its resetCrossSigning), a race of the client's alone.
const bob = await cryptoClient((options) => register(baseUrl, `cryptobob${suffix}`, options), {
  beforeSync: async (client) => {
    await within("bob's bootstrapCrossSigning", client.getCrypto().bootstrapCrossSigning({
      authUploadDeviceSigningKeys: passwordAuth(client, bobUia) }));
    bobFirstMaster = await client.getCrypto().getCrossSigningKeyId();
    await within("bob resetting his cross-signing keys", client.getCrypto().bootstrapCrossSigning({
      setupNewCrossSigning: true, authUploadDeviceSigningKeys: passwordAuth(client, bobResetUia) }));
  },
});
let aliceLater = null;

await run(() => [alice, bob, aliceLater].filter(Boolean), async (observed) => {
  observed.aliceUserId = alice.getUserId();
  observed.bobUserId = bob.getUserId();

  // 1. Cross-signing (alice's set up while her sync loop runs, as a client that just logged in does).
  await within("alice's bootstrapCrossSigning", alice.getCrypto().bootstrapCrossSigning({
    authUploadDeviceSigningKeys: passwordAuth(alice, aliceUia) }));
  observed.uia = { aliceFirst: aliceUia, bobFirst: bobUia, bobReset: bobResetUia };
  observed.bobMasterKeyReplaced = bobFirstMaster !== await bob.getCrypto().getCrossSigningKeyId();
  observed.crossSigning = {
    alice: await waitFor("alice's device cross-signed", async () => {
      const report = await crossSigningReport(alice);
      return report.deviceCrossSigned ? report : undefined;
    }),
    bob: await waitFor("bob's device cross-signed", async () => {
      const report = await crossSigningReport(bob);
      return report.deviceCrossSigned ? report : undefined;
    }),
  };
  observed.aliceSeesBobsMasterKey = await masterKeySeen(alice, bob);
  observed.bobSeesAlicesMasterKey = await masterKeySeen(bob, alice);

  // 2. An encrypted conversation, both ways.
  const { room_id: roomId } = await within("createRoom", alice.createRoom({
    preset: sdk.Preset.PrivateChat, invite: [bob.getUserId()], initial_state: [ENCRYPTION] }));
  observed.roomId = roomId;
  await waitFor("bob's invite", () => bob.getRoom(roomId)?.getMyMembership() === "invite");
  await within("bob joining", bob.joinRoom(roomId));
  await waitFor("alice seeing bob join", () => alice.getRoom(roomId)?.getJoinedMemberCount() === 2);
  observed.roomEncrypted = await alice.getCrypto().isEncryptionEnabledInRoom(roomId);
  const { event_id: helloId } = await within("alice sending", alice.sendTextMessage(roomId, HELLO));
  observed.bobReceived = await until(bob, roomId, helloId, HELLO, "bob decrypting alice's message");
  const { event_id: replyId } = await within("bob replying", bob.sendTextMessage(roomId, REPLY));
  observed.aliceReceived = await until(alice, roomId, replyId, REPLY, "alice decrypting bob's reply");
  observed.eventIds = [helloId, replyId];
  // With lazy-loaded members the SDK fetched the member list (/members?at=its sync token) before sharing keys.
  observed.membersLoadedFromServer = [alice, bob].map((client) => {
    const room = client.getRoom(roomId);
    return room.opts.lazyLoadMembers === true && room.membersLoaded();
  });
  const [aliceEmoji, bobEmoji] = await verifyWithEmoji(alice, bob, roomId);
  observed.sasEmojiMatch = aliceEmoji.length === 7 && aliceEmoji.join() === bobEmoji.join();
  observed.masterKeys = {};
  observed.userSigningKeys = {};
  for (const client of [alice, bob]) {
    observed.masterKeys[client.getUserId()] = await client.getCrypto().getCrossSigningKeyId(CrossSigningKey.Master);
    observed.userSigningKeys[client.getUserId()] =
      await client.getCrypto().getCrossSigningKeyId(CrossSigningKey.UserSigning);
  }
  observed.verified = {
    aliceVerifiedBob: await waitFor("alice's signature on bob's master key", async () =>
      (await alice.getCrypto().getUserVerificationStatus(bob.getUserId())).isCrossSigningVerified()),
    bobVerifiedAlice: await waitFor("bob's signature on alice's master key", async () =>
      (await bob.getCrypto().getUserVerificationStatus(alice.getUserId())).isCrossSigningVerified()),
  };

  // 3. Secret storage and key backup, then a new device restores from it.
  let recoveryKey;
  await within("alice's bootstrapSecretStorage", alice.getCrypto().bootstrapSecretStorage({
    createSecretStorageKey: async () => {
      recoveryKey = await alice.getCrypto().createRecoveryKeyFromPassphrase();
      return recoveryKey;
    },
    setupNewKeyBackup: true,
  }));
  observed.secretStorageReady = await alice.getCrypto().isSecretStorageReady();
  const backup = await waitFor("alice's room keys reaching the backup", async () => {
    const info = await currentBackup(alice);
    return info.count >= 2 ? info : undefined;
  });
  observed.backup = { version: backup.version, algorithm: backup.algorithm, count: backup.count,
                      trusted: (await alice.getCrypto().isKeyBackupTrusted(backup)).trusted };
  alice.stopClient();  // from here only the backup can give the new device alice's room keys

  const laterKeys = new SecretStorageKeys();
  aliceLater = await cryptoClient((options) => logIn(baseUrl, alice.getUserId(), options),
    { secretStorageKeys: laterKeys });
  observed.newDevice = aliceLater.getDeviceId() !== alice.getDeviceId();
  observed.newDeviceBefore = [
    await decrypted(aliceLater, roomId, helloId, "the new device trying alice's message"),
    await decrypted(aliceLater, roomId, replyId, "the new device trying bob's reply"),
  ];
  const [keyId] = await aliceLater.secretStorage.getKey() ?? [];
  laterKeys.keys.set(keyId, decodeRecoveryKey(recoveryKey.encodedPrivateKey));
  await within("loading the backup key from secret storage",
    aliceLater.getCrypto().loadSessionBackupPrivateKeyFromSecretStorage());
  const restored = await within("restoreKeyBackup", aliceLater.getCrypto().restoreKeyBackup());
  observed.restored = { total: restored.total, imported: restored.imported };
  observed.newDeviceAfter = [
    await until(aliceLater, roomId, helloId, HELLO, "the new device decrypting alice's message"),
    await until(aliceLater, roomId, replyId, REPLY, "the new device decrypting bob's reply"),
  ];
  // The recovery key also opens alice's cross-signing keys in secret storage: the new device cross-signs itself,
  // once it has fetched alice's public cross-signing keys (which this call does first, as a client would).
  observed.newDeviceSeesCrossSigning = await within("the new device querying alice's keys",
    aliceLater.getCrypto().userHasCrossSigningKeys());
  await within("the new device's bootstrapCrossSigning", aliceLater.getCrypto().bootstrapCrossSigning({
    authUploadDeviceSigningKeys: passwordAuth(aliceLater, {}) }));
  observed.newDeviceCrossSigning = await waitFor("the new device cross-signed", async () => {
    const report = await crossSigningReport(aliceLater);
    return report.deviceCrossSigned ? report : undefined;
  });
  observed.newDeviceTrustsBackup = (await aliceLater.getCrypto().isKeyBackupTrusted(backup)).trusted;
});
