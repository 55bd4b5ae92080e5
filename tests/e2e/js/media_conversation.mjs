// A matrix-js-sdk media conversation for Ganglion's e2e tests: a client uploads random bytes with the SDK's
// uploadContent, reads the upload limit, and downloads the content back over the authenticated media path the
// SDK builds (mxcUrlToHttp with useAuthentication), as Element does.
// Prints one line, "RESULT " and JSON of what it observed; exits non-zero (with the reason) on any failure or timeout.
import { randomBytes } from "node:crypto";

import { register, run, within } from "./clients.mjs";

const baseUrl = process.argv[2];
const suffix = process.argv[3] ?? String(Date.now());

const alice = await register(baseUrl, `jsmedia${suffix}`);
await run(() => [alice], async (observed) => {
  const data = randomBytes(1024 * 1024 + 3);
  const { content_uri: uri } = await within("uploading", alice.uploadContent(data, {
    type: "application/octet-stream", name: "random.bin",
  }));
  observed.contentUri = uri;
  const config = await within("reading the media config", alice.getMediaConfig(true));
  observed.uploadSize = config["m.upload.size"];
  const url = alice.mxcUrlToHttp(uri, undefined, undefined, undefined, false, true, true);
  observed.downloadPath = new URL(url).pathname;
  const response = await within("downloading", fetch(url, {
    headers: { Authorization: `Bearer ${alice.getAccessToken()}` },
  }));
  observed.status = response.status;
  observed.contentDisposition = response.headers.get("content-disposition");
  observed.identical = Buffer.from(await response.arrayBuffer()).equals(data);
});
