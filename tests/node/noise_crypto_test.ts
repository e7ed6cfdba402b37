// The node's noise cipher against independent implementations: what it seals, @libp2p/noise's
// pure-JS ChaCha20-Poly1305 (@noble/ciphers) opens to the same bytes, and the reverse, at
// sizes on both sides of the WASM / node:crypto thresholds; a changed byte is refused.
import assert from "node:assert/strict";
import { nodeCrypto, pureJsCrypto } from "@libp2p/noise/crypto";
import { Uint8ArrayList } from "uint8arraylist";
import { denoNoiseCrypto } from "../../src/node/noise_crypto.ts";
import {
  NOISE_DECRYPT_NODE_FROM,
  NOISE_ENCRYPT_NODE_FROM,
} from "../../src/node/deno_tcp_constants.ts";

const SIZES = [
  0,
  1,
  76,
  NOISE_DECRYPT_NODE_FROM - 17,
  NOISE_DECRYPT_NODE_FROM - 16,
  NOISE_ENCRYPT_NODE_FROM - 1,
  NOISE_ENCRYPT_NODE_FROM,
  4096,
  65519,
];

function bytes(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

/** The bytes as a plain `Uint8Array` (node:crypto hands back `Buffer`s, which compare unequal). */
function flat(data: Uint8Array | Uint8ArrayList): Uint8Array {
  return Uint8Array.from(data instanceof Uint8Array ? data : data.subarray());
}

const key = bytes(32, 7);
const nonce = bytes(12, 3);
const ad = bytes(32, 11);

Deno.test("noise crypto: sealed bytes open elsewhere, and the reverse, at every size", () => {
  const crypto = denoNoiseCrypto();
  for (const size of SIZES) {
    const plaintext = bytes(size, size);
    const sealed = flat(crypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key));
    assert.equal(sealed.byteLength, size + 16, `${size} bytes: ciphertext and tag`);
    assert.deepEqual(
      sealed,
      flat(pureJsCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key)),
      `${size} bytes: the same ciphertext as @noble/ciphers`,
    );
    assert.deepEqual(
      flat(pureJsCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, key)),
      plaintext,
      `${size} bytes: opened by @noble/ciphers`,
    );
    const foreign = flat(nodeCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key));
    assert.deepEqual(
      flat(crypto.chaCha20Poly1305Decrypt(foreign, nonce, ad, key)),
      plaintext,
      `${size} bytes: opens what @libp2p/noise sealed`,
    );
  }
});

Deno.test("noise crypto: a plaintext in pieces seals like the same bytes in one", () => {
  const crypto = denoNoiseCrypto();
  const whole = bytes(5000, 1);
  const pieces = new Uint8ArrayList(whole.subarray(0, 1234), whole.subarray(1234));
  assert.deepEqual(
    flat(crypto.chaCha20Poly1305Encrypt(pieces, nonce, ad, key)),
    flat(crypto.chaCha20Poly1305Encrypt(whole, nonce, ad, key)),
  );
});

Deno.test("noise crypto: a changed byte, tag or nonce is refused at every size", () => {
  const crypto = denoNoiseCrypto();
  for (const size of SIZES) {
    const sealed = flat(crypto.chaCha20Poly1305Encrypt(bytes(size, 2), nonce, ad, key));
    const tampered = sealed.slice();
    tampered[Math.floor(size / 2)]! ^= 1;
    assert.throws(() => crypto.chaCha20Poly1305Decrypt(tampered, nonce, ad, key), `${size} bytes`);
    assert.throws(
      () => crypto.chaCha20Poly1305Decrypt(sealed, bytes(12, 4), ad, key),
      `${size} bytes, another nonce`,
    );
  }
});
