import assert from "node:assert/strict";
import { seal, unseal, UnsealError } from "../../src/token/mod.ts";

const KEY = "657ea17ddf27021e7ee396a721eb6b32";
const OTHER_KEY = "b104ee7f2c658abcd238f189d2f214a3";
const MESSAGE = new TextEncoder().encode('{"Message":"hello"}');

// Computed independently (Python `cryptography` AESGCM, nonce 00..0b, no AAD).
const KNOWN_SEALED =
  "000102030405060708090a0bba646b42d71a9a0d61b9cfe7935526380e94b53dc0b34b76715fdf0531e6f7b88044a6";
const KNOWN_SHORT_KEY_SEALED = "000102030405060708090a0b284e7e858b2637defe31260b9639f8b4ea";

function assertUnsealFails(key: string, sealed: string, message: string): void {
  assert.throws(() => unseal(key, sealed), (error: unknown) => {
    assert.ok(error instanceof UnsealError);
    assert.equal(error.name, "UnsealError");
    assert.equal(error.message, message);
    return true;
  });
}

function flipByte(hex: string, index: number): string {
  const byte = (parseInt(hex.slice(2 * index, 2 * index + 2), 16) ^ 0x01).toString(16);
  return `${hex.slice(0, 2 * index)}${byte.padStart(2, "0")}${hex.slice(2 * index + 2)}`;
}

Deno.test("seal() and unseal() round-trip", () => {
  assert.deepEqual(unseal(KEY, seal(KEY, MESSAGE)), MESSAGE);
  assert.deepEqual(unseal(KEY, seal(KEY, new Uint8Array())), new Uint8Array());
  const large = new Uint8Array(100_000).map((_, i) => i % 251);
  assert.deepEqual(unseal(KEY, seal(KEY, large)), large);
});

Deno.test("seal() returns lowercase hex of nonce, ciphertext and tag", () => {
  const sealed = seal(KEY, MESSAGE);
  assert.match(sealed, /^[0-9a-f]+$/);
  assert.equal(sealed.length, 2 * (12 + MESSAGE.length + 16));
});

Deno.test("seal() uses a fresh nonce every time", () => {
  const a = seal(KEY, MESSAGE);
  const b = seal(KEY, MESSAGE);
  assert.notEqual(a.slice(0, 24), b.slice(0, 24));
  assert.notEqual(a, b);
});

Deno.test("unseal() opens a message sealed by another AES-256-GCM implementation", () => {
  assert.deepEqual(unseal(KEY, KNOWN_SEALED), MESSAGE);
  assert.deepEqual(unseal(KEY, KNOWN_SEALED.toUpperCase()), MESSAGE);
});

Deno.test("seal() zero-pads short keys and truncates long keys like Go", () => {
  assert.deepEqual(unseal("abc", KNOWN_SHORT_KEY_SEALED), new TextEncoder().encode("x"));
  assert.deepEqual(unseal(`abc${"\0".repeat(29)}`, seal("abc", MESSAGE)), MESSAGE);
  assert.deepEqual(unseal(KEY, seal(`${KEY}ignored`, MESSAGE)), MESSAGE);
});

Deno.test("unseal() rejects a tampered message", () => {
  const sealed = seal(KEY, MESSAGE);
  const bytes = sealed.length / 2;
  for (const index of [0, 11, 12, bytes - 17, bytes - 16, bytes - 1]) {
    assertUnsealFails(KEY, flipByte(sealed, index), "Cannot unseal message: authentication failed");
  }
  assertUnsealFails(KEY, sealed.slice(0, -2), "Cannot unseal message: authentication failed");
});

Deno.test("unseal() rejects a wrong key", () => {
  assertUnsealFails(OTHER_KEY, seal(KEY, MESSAGE), "Cannot unseal message: authentication failed");
});

Deno.test("unseal() rejects text that is not hex", () => {
  for (const text of ["abc", "zz", "0g", "00 11", `${seal(KEY, MESSAGE)}x`]) {
    assertUnsealFails(KEY, text, "Cannot unseal message: not hex");
  }
});

Deno.test("unseal() rejects a message shorter than a nonce and a tag", () => {
  assertUnsealFails(KEY, "", "Cannot unseal message: too short");
  assertUnsealFails(KEY, "00".repeat(27), "Cannot unseal message: too short");
  assertUnsealFails(KEY, "00".repeat(28), "Cannot unseal message: authentication failed");
});

Deno.test("unseal() never puts the key in its message", () => {
  assert.throws(() => unseal(OTHER_KEY, seal(KEY, MESSAGE)), (error: unknown) => {
    assert.ok(error instanceof UnsealError);
    assert.ok(!error.message.includes(KEY) && !error.message.includes(OTHER_KEY));
    return true;
  });
});
