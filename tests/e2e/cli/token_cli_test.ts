import { assertCliError, runP2P } from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { Buffer } from "node:buffer";
import { decodeToken, encodeToken, type NetworkToken } from "../../../src/token/token.ts";

const KEY = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
const AT = 1700000000;
/** No token anywhere in the environment the child inherits. */
const NO_TOKEN_ENV = { P2P_TOKEN: "", LOCALAI_P2P_TOKEN: "", TOKEN: "" };

/** A token with every secret set to the reference key. */
function handBuiltToken(): NetworkToken {
  return {
    otp: {
      dht: { key: KEY, interval: 30, length: 43 },
      crypto: { key: KEY, interval: 9000, length: 43 },
    },
    room: KEY,
    rendezvous: KEY,
    mdns: "handbuiltmdnstag",
    maxMessageSize: 20971520,
  };
}

/** edgevpn's derivation, written out independently of src/token: md5(totp(key)). */
function md5OfTotp(key: string, intervalS: number, length: number, atS: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atS / intervalS)));
  const code = createHmac("sha256", key).update(counter).digest("base64").slice(0, length);
  return createHash("md5").update(code).digest("hex");
}

function sha256Prefix(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 8);
}

Deno.test("p2p token prints only a token, on one line, that decodes", async () => {
  const [a, b] = await Promise.all([runP2P(["token"]), runP2P(["token"])]);
  for (const result of [a, b]) {
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    assert.match(result.stdout, /^[A-Za-z0-9+/]+=*\n$/);
    const token = decodeToken(result.stdout);
    assert.equal(token.otp.dht.interval, 30);
    assert.equal(token.otp.crypto.interval, 9000);
    assert.equal(token.maxMessageSize, 20971520);
  }
  assert.notEqual(a.stdout, b.stdout, "each token has fresh secrets");
});

Deno.test("p2p token --dht-interval 60 shows in token inspect", async () => {
  const made = await runP2P(["token", "--dht-interval", "60", "--otp-interval", "120"]);
  assert.equal(made.code, 0, made.stderr);
  const token = made.stdout.trim();
  const inspected = await runP2P(["token", "inspect", token, "--at", String(AT)]);
  assert.equal(inspected.code, 0, inspected.stderr);
  const info = JSON.parse(inspected.stdout);
  assert.equal(info.dhtInterval, 60);
  assert.equal(info.otpInterval, 120);
  assert.deepEqual(info.dhtWindow, { start: 1699999980, end: 1700000040 });
  assert.deepEqual(info.cryptoWindow, { start: 1699999920, end: 1700000040 });
});

Deno.test("p2p token inspect prints the derived values and no secret", async () => {
  const tokenText = (await runP2P(["token"])).stdout.trim();
  const token = decodeToken(tokenText);
  const result = await runP2P(["token", "inspect", tokenText]);
  assert.equal(result.code, 0, result.stderr);
  const info = JSON.parse(result.stdout);
  for (
    const field of [
      "rendezvous",
      "rendezvousCid",
      "topic",
      "mdns",
      "dhtInterval",
      "otpInterval",
      "maxMessageSize",
      "dhtWindow",
      "cryptoWindow",
    ]
  ) {
    assert.ok(field in info, `inspect shows ${field}`);
  }
  assert.match(info.rendezvous, /^[0-9a-f]{32}$/);
  assert.match(info.rendezvousCid, /^bafkrei[a-z2-7]+$/);
  assert.match(info.topic, /^[0-9a-f]{32}$/);
  assert.equal(info.mdns, token.mdns, "the mDNS tag is visible on the wire anyway");
  const nowS = Date.now() / 1000;
  assert.ok(info.dhtWindow.start <= nowS && nowS < info.dhtWindow.end + 5);
  assert.equal(info.dhtWindow.end - info.dhtWindow.start, 30);
  assert.equal(info.cryptoWindow.end - info.cryptoWindow.start, 9000);
  for (
    const [name, secret] of [
      ["otp.crypto.key", token.otp.crypto.key],
      ["otp.dht.key", token.otp.dht.key],
      ["room", token.room],
      ["rendezvous", token.rendezvous],
    ]
  ) {
    assert.ok(!result.stdout.includes(secret!), `inspect must not print ${name}`);
    assert.ok(!result.stderr.includes(secret!), `inspect must not log ${name}`);
  }
  assert.ok(!result.stdout.includes(tokenText), "inspect must not print the token itself");
});

Deno.test("p2p token inspect --at gives edgevpn's reference values", async () => {
  const tokenText = encodeToken(handBuiltToken());
  const result = await runP2P(["token", "inspect", tokenText, "--at", String(AT)]);
  assert.equal(result.code, 0, result.stderr);
  const info = JSON.parse(result.stdout);
  assert.equal(info.rendezvous, "6055c688be7676df5d1c41b7f3ca4610");
  assert.equal(info.rendezvousCid, "bafkreidatokketbrczzqwaovlrvtw5tt3xdlm3ewy723kkghorfugeggvy");
  assert.equal(info.rendezvous, md5OfTotp(KEY, 30, 43, AT));
  assert.equal(info.previousRendezvous, md5OfTotp(KEY, 30, 43, AT - 30));
  assert.equal(info.topic, "657ea17ddf27021e7ee396a721eb6b32");
  assert.equal(info.topic, md5OfTotp(KEY, 9000, 43, AT));
  assert.equal(info.mdns, "handbuiltmdnstag");
  assert.equal(info.dhtInterval, 30);
  assert.equal(info.otpInterval, 9000);
  assert.equal(info.maxMessageSize, 20971520);
  assert.deepEqual(info.dhtWindow, { start: 1699999980, end: 1700000010 });
  assert.deepEqual(info.cryptoWindow, { start: 1699992000, end: 1700001000 });
  assert.equal(info.sealKeyFingerprint, sha256Prefix(md5OfTotp(KEY, 9000, 43, AT)));
  assert.equal(info.tokenFingerprint, sha256Prefix(tokenText));
  assert.equal(info.at, AT);
  assert.ok(!result.stdout.includes(KEY));
});

Deno.test("p2p token inspect reads P2P_TOKEN and LocalAI's names", async () => {
  const tokenText = encodeToken(handBuiltToken());
  const results = await Promise.all([
    runP2P(["token", "inspect", "--at", String(AT)], {
      env: { ...NO_TOKEN_ENV, P2P_TOKEN: tokenText },
    }),
    runP2P(["token", "inspect", "--at", String(AT)], {
      env: { ...NO_TOKEN_ENV, LOCALAI_P2P_TOKEN: tokenText },
    }),
  ]);
  for (const result of results) {
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).rendezvous, "6055c688be7676df5d1c41b7f3ca4610");
  }
});

Deno.test("p2p token: bad input exits 1 with one error line", async () => {
  const good = encodeToken(handBuiltToken());
  const [badToken, notBase64, badInterval, zeroInterval, badAt, noToken] = await Promise.all([
    runP2P(["token", "inspect", "bm90IGEgdG9rZW4="], { env: NO_TOKEN_ENV }),
    runP2P(["token", "inspect", "%%%"], { env: NO_TOKEN_ENV }),
    runP2P(["token", "--dht-interval", "often"]),
    runP2P(["token", "--dht-interval", "0"]),
    runP2P(["token", "inspect", good, "--at", "yesterday"]),
    runP2P(["token", "inspect"], { env: NO_TOKEN_ENV }),
  ]);
  assertCliError(badToken, /token/i);
  assertCliError(notBase64, /token/i);
  assertCliError(badInterval, /--dht-interval "often"/);
  assertCliError(zeroInterval, /--dht-interval "0"/);
  assertCliError(badAt, /--at "yesterday"/);
  assertCliError(noToken, /no token/);
});

Deno.test("p2p --version prints the version and --help lists the commands", async () => {
  const [version, help] = await Promise.all([runP2P(["--version"]), runP2P(["--help"])]);
  const expected =
    JSON.parse(await Deno.readTextFile(new URL("../../../deno.json", import.meta.url)))
      .version;
  assert.equal(version.code, 0);
  assert.equal(version.stdout, `${expected}\n`);
  assert.equal(help.code, 0);
  for (const command of ["token", "node", "ledger"]) {
    assert.match(help.stdout, new RegExp(`^\\s+${command}\\b`, "m"), `--help lists ${command}`);
  }
});
