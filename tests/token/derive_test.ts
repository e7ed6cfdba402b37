import assert from "node:assert/strict";
import {
  encodeToken,
  fingerprint,
  generateTokenConfig,
  inspectToken,
  md5Hex,
  type NetworkToken,
  publicTopicAt,
  rendezvousAt,
  rendezvousCid,
  sealKeyAt,
  topicAt,
  totp,
  windowAt,
} from "../../src/token/mod.ts";

// Reference vectors: docs/localai-edgevpn-reference.md §1.3.
const KEY = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
const T = 1700000000;
const TOTP_30 = "yaEkKNz1oTl4qZPF/AP2z4015Bo1jsPDPRtiba0J8tg";
const MD5_30 = "6055c688be7676df5d1c41b7f3ca4610";
const CID_30 = "bafkreidatokketbrczzqwaovlrvtw5tt3xdlm3ewy723kkghorfugeggvy";
const TOTP_9000 = "1M1q5mAljHfXq2MIQYEaQY/0WPvozSmgCQ9yqKZPiAA";
const MD5_9000 = "657ea17ddf27021e7ee396a721eb6b32";
const MD5_9000_PUBLIC = "b104ee7f2c658abcd238f189d2f214a3";

/** A token whose every secret is the reference key. */
function referenceToken(): NetworkToken {
  const token = generateTokenConfig();
  token.otp.dht.key = KEY;
  token.otp.crypto.key = KEY;
  token.room = KEY;
  return token;
}

Deno.test("totp() matches the reference vectors", () => {
  assert.equal(totp(KEY, 30, 43, T), TOTP_30);
  assert.equal(totp(KEY, 9000, 43, T), TOTP_9000);
});

Deno.test("totp() keeps the first `length` base64 characters", () => {
  assert.equal(totp(KEY, 30, 10, T), TOTP_30.slice(0, 10));
  assert.equal(totp(KEY, 30, 1, T), TOTP_30.slice(0, 1));
  assert.equal(totp(KEY, 30, 44, T), `${TOTP_30}=`);
});

Deno.test("totp() is constant inside a window and changes at its end", () => {
  const { start, end } = windowAt(30, T);
  assert.equal(totp(KEY, 30, 43, start), TOTP_30);
  assert.equal(totp(KEY, 30, 43, end - 0.001), TOTP_30);
  assert.notEqual(totp(KEY, 30, 43, end), TOTP_30);
  assert.notEqual(totp(KEY, 30, 43, start - 1), TOTP_30);
});

Deno.test("totp() rejects a bad interval, length or time", () => {
  assert.throws(() => totp(KEY, 0, 43, T), RangeError);
  assert.throws(() => totp(KEY, 1.5, 43, T), RangeError);
  assert.throws(() => totp(KEY, 30, 0, T), RangeError);
  assert.throws(() => totp(KEY, 30, 45, T), RangeError);
  assert.throws(() => totp(KEY, 30, 43, Number.NaN), RangeError);
});

Deno.test("md5Hex() hashes UTF-8 text to lowercase hex", () => {
  assert.equal(md5Hex(TOTP_30), MD5_30);
  assert.equal(md5Hex(TOTP_9000), MD5_9000);
  assert.equal(md5Hex(`${TOTP_9000}public`), MD5_9000_PUBLIC);
  assert.equal(md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  assert.equal(md5Hex("é"), "66ddcd97cfdeabb2f6fb8a999b4bc76f");
});

Deno.test("rendezvousCid() matches the reference vector", () => {
  assert.equal(rendezvousCid(MD5_30), CID_30);
});

Deno.test("windowAt() returns epoch-aligned bounds", () => {
  assert.deepEqual(windowAt(30, T), { start: 1699999980, end: 1700000010 });
  assert.deepEqual(windowAt(30, 1699999980), { start: 1699999980, end: 1700000010 });
  assert.deepEqual(windowAt(30, 1700000009.999), { start: 1699999980, end: 1700000010 });
  assert.deepEqual(windowAt(30, 1700000010), { start: 1700000010, end: 1700000040 });
  assert.deepEqual(windowAt(9000, T), { start: 1699992000, end: 1700001000 });
});

Deno.test("rendezvousAt() derives from otp.dht", () => {
  const token = referenceToken();
  assert.equal(rendezvousAt(token, T), MD5_30);
  token.otp.dht.interval = 9000;
  assert.equal(rendezvousAt(token, T), MD5_9000);
});

Deno.test("rendezvousAt() uses the static rendezvous when otp.dht.key is empty", () => {
  const token = referenceToken();
  token.otp.dht.key = "";
  assert.equal(rendezvousAt(token, T), token.rendezvous);
  assert.equal(rendezvousAt(token, T + 3600), token.rendezvous);
});

Deno.test("topicAt() and publicTopicAt() derive from room with otp.crypto", () => {
  const token = referenceToken();
  token.otp.crypto.key = "another key";
  assert.equal(topicAt(token, T), MD5_9000);
  assert.equal(publicTopicAt(token, T), MD5_9000_PUBLIC);
});

Deno.test("sealKeyAt() derives from otp.crypto", () => {
  const token = referenceToken();
  token.room = "another room";
  assert.equal(sealKeyAt(token, T), MD5_9000);
  token.otp.crypto.interval = 30;
  assert.equal(sealKeyAt(token, T), MD5_30);
});

Deno.test("fingerprint() returns the first 8 hex characters of SHA-256", () => {
  assert.equal(fingerprint("abc"), "ba7816bf");
  assert.match(fingerprint(KEY), /^[0-9a-f]{8}$/);
});

Deno.test("inspectToken() reports the derived values at a time", () => {
  const token = referenceToken();
  const inspection = inspectToken(token, T);
  assert.deepEqual(inspection, {
    rendezvous: MD5_30,
    rendezvousCid: CID_30,
    previousRendezvous: rendezvousAt(token, T - 30),
    previousRendezvousCid: rendezvousCid(rendezvousAt(token, T - 30)),
    topic: MD5_9000,
    publicTopic: MD5_9000_PUBLIC,
    mdns: token.mdns,
    dhtInterval: 30,
    otpInterval: 9000,
    keyLength: 43,
    maxMessageSize: 20971520,
    dhtWindow: { start: 1699999980, end: 1700000010 },
    cryptoWindow: { start: 1699992000, end: 1700001000 },
    sealKeyFingerprint: fingerprint(MD5_9000),
    tokenFingerprint: fingerprint(encodeToken(token)),
    at: T,
  });
});

Deno.test("inspectToken() previous rendezvous is the one of the previous DHT window", () => {
  const token = generateTokenConfig({ dhtInterval: 60 });
  const inspection = inspectToken(token, T);
  assert.notEqual(inspection.previousRendezvous, inspection.rendezvous);
  assert.equal(inspection.previousRendezvous, rendezvousAt(token, T - 60));
  assert.equal(inspection.previousRendezvous, rendezvousAt(token, inspection.dhtWindow.start - 1));
  assert.notEqual(inspection.previousRendezvousCid, inspection.rendezvousCid);
});

Deno.test("inspectToken() fingerprints the given encoded token", () => {
  const token = generateTokenConfig();
  const encoded = `${encodeToken(token)}\n`;
  assert.equal(inspectToken(token, T, encoded).tokenFingerprint, fingerprint(encoded));
});

Deno.test("inspectToken() contains no raw secret", () => {
  const token = generateTokenConfig();
  const text = JSON.stringify(inspectToken(token, T));
  for (const secret of [token.otp.dht.key, token.otp.crypto.key, token.room, token.rendezvous]) {
    assert.ok(!text.includes(secret));
  }
  assert.ok(!text.includes(sealKeyAt(token, T)));
  assert.ok(!text.includes(encodeToken(token)));
});
