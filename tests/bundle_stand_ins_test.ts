// The modules the release bundle imports instead of @chainsafe/as-chacha20poly1305 and
// @chainsafe/as-sha256 (scripts/stand_ins/): byte for byte what the originals give
// @libp2p/noise (its `asCrypto` runs them here, from the sources), at sizes around the 1200
// bytes below which @libp2p/noise uses them, and with the originals' edge cases: a plaintext
// opened into the ciphertext's own bytes, a changed tag refused, a `dst` of the wrong size.
import assert from "node:assert/strict";
import { asCrypto, pureJsCrypto } from "@libp2p/noise/crypto";
import { ChaCha20Poly1305, newInstance } from "../scripts/stand_ins/as-chacha20poly1305.js";
import { digest } from "../scripts/stand_ins/as-sha256.js";

const SIZES = [0, 1, 63, 64, 65, 76, 1183, 1184, 1199, 4096, 65519];

function bytes(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

/** A plain `Uint8Array` (node:crypto hands back `Buffer`s, which compare unequal). */
function flat(data: Uint8Array | { subarray(): Uint8Array }): Uint8Array {
  return Uint8Array.from(data instanceof Uint8Array ? data : data.subarray());
}

const key = bytes(32, 7);
const nonce = bytes(12, 3);
const ad = bytes(32, 11);
const standIn = new ChaCha20Poly1305(newInstance());

Deno.test("stand-in ChaCha20-Poly1305: seals as the WASM original and opens what it sealed", () => {
  for (const size of SIZES) {
    const plaintext = bytes(size, size);
    const sealed = standIn.seal(key, nonce, plaintext, ad);
    assert.deepEqual(
      flat(sealed),
      flat(asCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key)),
      `${size} bytes: the original's ciphertext and tag`,
    );
    assert.deepEqual(
      flat(pureJsCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, key)),
      plaintext,
      `${size} bytes: opened by @noble/ciphers`,
    );
    const foreign = flat(asCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key));
    assert.deepEqual(flat(standIn.open(key, nonce, foreign, ad)!), plaintext, `${size} bytes`);
  }
});

Deno.test("stand-in ChaCha20-Poly1305: opens in place into dst, as @libp2p/noise asks", () => {
  for (const size of [0, 1, 100, 1183]) {
    const plaintext = bytes(size, 5);
    const sealed = flat(pureJsCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key));
    const dst = sealed.subarray(0, size);
    assert.equal(standIn.open(key, nonce, sealed, ad, dst), dst, `${size} bytes: dst returned`);
    assert.deepEqual(dst, plaintext, `${size} bytes: written into dst`);
  }
  const into = new Uint8Array(100 + 16);
  assert.equal(standIn.seal(key, nonce, bytes(100, 1), ad, into), into);
  assert.deepEqual(into, flat(asCrypto.chaCha20Poly1305Encrypt(bytes(100, 1), nonce, ad, key)));
});

Deno.test("stand-in ChaCha20-Poly1305: a changed byte, tag, nonce or data is refused (null)", () => {
  for (const size of [0, 1, 100, 1183]) {
    const sealed = flat(standIn.seal(key, nonce, bytes(size, 2), ad));
    const forged = sealed.slice();
    forged[forged.byteLength - 1]! ^= 1;
    assert.equal(standIn.open(key, nonce, forged, ad), null, `${size} bytes, tag`);
    if (size > 0) {
      const changed = sealed.slice();
      changed[0]! ^= 1;
      assert.equal(standIn.open(key, nonce, changed, ad), null, `${size} bytes, ciphertext`);
    }
    assert.equal(standIn.open(key, bytes(12, 4), sealed, ad), null, `${size} bytes, nonce`);
    assert.equal(standIn.open(key, nonce, sealed, bytes(32, 12)), null, `${size} bytes, data`);
  }
  assert.equal(standIn.open(key, nonce, new Uint8Array(15), ad), null, "shorter than a tag");
  assert.throws(
    () =>
      standIn.open(key, nonce, standIn.seal(key, nonce, bytes(9, 1), ad), ad, new Uint8Array(8)),
    /Cannot open: dst is 8 bytes, expected 9/,
  );
  assert.throws(
    () => standIn.seal(key, nonce, bytes(9, 1), ad, new Uint8Array(9)),
    /Cannot seal: dst is 9 bytes, expected 25/,
  );
});

Deno.test("stand-in SHA-256: the original's digest at every length it treats apart", () => {
  for (const size of [0, 1, 63, 64, 65, 1000, 70_000]) {
    const data = bytes(size, 13);
    const got = digest(data);
    assert.ok(got instanceof Uint8Array && !("readUInt8" in got), "a plain Uint8Array");
    assert.deepEqual(got, flat(asCrypto.hashSHA256(data)), `${size} bytes`);
  }
});
