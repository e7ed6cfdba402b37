// The node's noise ciphers (the built-in mix of WASM and node:crypto, and the host's OpenSSL
// through FFI) against independent implementations: what they seal, @libp2p/noise's pure-JS
// ChaCha20-Poly1305 (@noble/ciphers) opens to the same bytes, and the reverse, at sizes on
// both sides of the WASM / node:crypto thresholds; a changed byte is refused.
import assert from "node:assert/strict";
import { nodeCrypto, pureJsCrypto } from "@libp2p/noise/crypto";
import { Uint8ArrayList } from "uint8arraylist";
import { denoNoiseCrypto } from "../../src/node/noise_crypto.ts";
import { type AeadCipher, loadOpenSslAead } from "../../src/node/openssl_aead.ts";
import {
  NOISE_DECRYPT_NODE_FROM,
  NOISE_ENCRYPT_NODE_FROM,
  NOISE_MAX_MESSAGE_BYTES,
} from "../../src/node/deno_tcp_constants.ts";
import { BufferPool } from "../../src/node/buffer_pool.ts";

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

const openSsl = loadOpenSslAead();
if (openSsl === undefined) {
  console.warn("OpenSSL's libcrypto could not be loaded here: its noise cipher tests are skipped");
}
/** Each cipher under test; OpenSSL's only where it loads (CI's Debian has libcrypto.so.3). */
const CIPHERS = [
  { name: "built-in", make: () => denoNoiseCrypto(), ignore: false },
  {
    name: "OpenSSL",
    make: () => denoNoiseCrypto({ aead: openSsl }),
    ignore: openSsl === undefined,
  },
  {
    // SIZES run in order: the built-in ciphers up to 4096 bytes, which loads OpenSSL's.
    name: "OpenSSL on demand",
    make: () => denoNoiseCrypto({ aeadOnDemand: { load: () => openSsl, from: 4096 } }),
    ignore: openSsl === undefined,
  },
];

for (const cipher of CIPHERS) {
  Deno.test({
    name:
      `noise crypto (${cipher.name}): sealed bytes open elsewhere, and the reverse, at every size`,
    ignore: cipher.ignore,
    fn: () => {
      const crypto = cipher.make();
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
    },
  });

  Deno.test({
    name: `noise crypto (${cipher.name}): a plaintext in pieces seals like the same bytes in one`,
    ignore: cipher.ignore,
    fn: () => {
      const crypto = cipher.make();
      const whole = bytes(5000, 1);
      const pieces = new Uint8ArrayList(whole.subarray(0, 1234), whole.subarray(1234));
      assert.deepEqual(
        flat(crypto.chaCha20Poly1305Encrypt(pieces, nonce, ad, key)),
        flat(crypto.chaCha20Poly1305Encrypt(whole, nonce, ad, key)),
      );
    },
  });

  Deno.test({
    name: `noise crypto (${cipher.name}): a changed byte, tag or nonce is refused at every size`,
    ignore: cipher.ignore,
    fn: () => {
      const crypto = cipher.make();
      for (const size of SIZES) {
        const sealed = flat(crypto.chaCha20Poly1305Encrypt(bytes(size, 2), nonce, ad, key));
        const tampered = sealed.slice();
        tampered[Math.floor(size / 2)]! ^= 1;
        assert.throws(
          () => crypto.chaCha20Poly1305Decrypt(tampered, nonce, ad, key),
          `${size} bytes`,
        );
        assert.throws(
          () => crypto.chaCha20Poly1305Decrypt(sealed, bytes(12, 4), ad, key),
          `${size} bytes, another nonce`,
        );
      }
    },
  });
}

Deno.test({
  name: "noise crypto (OpenSSL): a full message is sealed into a lent buffer, reused once back",
  ignore: openSsl === undefined,
  fn: () => {
    const pool = new BufferPool(NOISE_MAX_MESSAGE_BYTES, 2);
    const crypto = denoNoiseCrypto({ aead: openSsl, sealBuffers: pool });
    const full = bytes(NOISE_MAX_MESSAGE_BYTES - 16, 5);
    const first = crypto.chaCha20Poly1305Encrypt(full, nonce, ad, key);
    assert.deepEqual(flat(pureJsCrypto.chaCha20Poly1305Decrypt(first, nonce, ad, key)), full);
    // Still lent (not yet written): the next message gets a buffer of its own.
    const second = crypto.chaCha20Poly1305Encrypt(full, nonce, ad, key);
    assert.notEqual(second, first);
    pool.giveBack(first as Uint8Array);
    const other = bytes(NOISE_MAX_MESSAGE_BYTES - 16, 6);
    const third = crypto.chaCha20Poly1305Encrypt(other, nonce, ad, key);
    assert.equal(third, first, "the written message's buffer, reused");
    assert.deepEqual(flat(pureJsCrypto.chaCha20Poly1305Decrypt(third, nonce, ad, key)), other);
    // Smaller messages get new buffers (only full ones are pooled).
    const small = crypto.chaCha20Poly1305Encrypt(bytes(100, 1), nonce, ad, key);
    assert.equal(small.byteLength, 116);
    assert.equal(pool.free, 0);
  },
});

Deno.test({
  name: "noise crypto (OpenSSL): opens in place into noise's dst, and a message in pieces",
  ignore: openSsl === undefined,
  fn: () => {
    const crypto = denoNoiseCrypto({ aead: openSsl });
    for (const size of [0, 1, 100, 4096, 65519]) {
      const plaintext = bytes(size, 9);
      const sealed = flat(pureJsCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key));
      // What @libp2p/noise does: the plaintext overwrites the ciphertext's own bytes.
      const dst = sealed.subarray(0, size);
      const opened = crypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, key, dst);
      assert.deepEqual(flat(opened), plaintext, `${size} bytes in place`);
      const again = flat(pureJsCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key));
      // Chunks that split the tag too.
      const split = Math.max(0, again.byteLength - 7);
      const pieces = new Uint8ArrayList(again.subarray(0, split), again.subarray(split));
      assert.deepEqual(flat(crypto.chaCha20Poly1305Decrypt(pieces, nonce, ad, key)), plaintext);
    }
  },
});

Deno.test({
  name: "noise crypto (OpenSSL): not loaded (nor prompted for) without --allow-ffi",
  ignore: openSsl === undefined,
  fn: async () => {
    const script = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      await Deno.writeTextFile(
        script,
        `import { loadOpenSslAead } from "${
          new URL("../../src/node/openssl_aead.ts", import.meta.url).href
        }"; console.log(String(loadOpenSslAead()));`,
      );
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-prompt",
          "--config",
          new URL("../../deno.json", import.meta.url).pathname,
          script,
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 0, stderr);
      assert.equal(new TextDecoder().decode(output.stdout).trim(), "undefined");
    } finally {
      await Deno.remove(script);
    }
  },
});

Deno.test({
  name: "noise crypto (OpenSSL): a key or nonce of another size is refused before OpenSSL reads it",
  ignore: openSsl === undefined,
  fn: () => {
    const plaintext = bytes(10, 1);
    assert.throws(() => openSsl!.seal(plaintext, nonce, ad, bytes(31, 1)), RangeError);
    assert.throws(() => openSsl!.seal(plaintext, bytes(8, 1), ad, key), RangeError);
    const sealed = openSsl!.seal(plaintext, nonce, ad, key);
    assert.throws(() => openSsl!.open(sealed, nonce, ad, bytes(16, 1)), RangeError);
    assert.throws(() => openSsl!.open(sealed.subarray(0, 15), nonce, ad, key), /shorter/);
  },
});

/** A cipher on node:crypto that counts its calls, loaded by {@linkcode denoNoiseCrypto}. */
function countingCipher(): AeadCipher & { calls: number } {
  const cipher = {
    source: "counting",
    calls: 0,
    seal(plaintext: Uint8Array | Uint8ArrayList, n: Uint8Array, a: Uint8Array, k: Uint8Array) {
      cipher.calls++;
      return flat(nodeCrypto.chaCha20Poly1305Encrypt(plaintext, n, a, k));
    },
    open(
      ciphertext: Uint8Array | Uint8ArrayList,
      n: Uint8Array,
      a: Uint8Array,
      k: Uint8Array,
      dst?: Uint8Array,
    ) {
      cipher.calls++;
      return flat(nodeCrypto.chaCha20Poly1305Decrypt(ciphertext, n, a, k, dst));
    },
  };
  return cipher;
}

Deno.test("noise crypto on demand: the first message of `from` bytes loads the cipher, once", () => {
  const loaded = countingCipher();
  let loads = 0;
  const crypto = denoNoiseCrypto({
    aeadOnDemand: { load: () => (loads++, loaded), from: 1000 },
  });
  const seal = (size: number): Uint8Array =>
    flat(crypto.chaCha20Poly1305Encrypt(bytes(size, size), nonce, ad, key));
  const open = (sealed: Uint8Array): Uint8Array =>
    flat(crypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, key));

  // Below `from`, in either direction (983 bytes seal to 999): the built-in ciphers only.
  for (const size of [0, 76, 983]) assert.deepEqual(open(seal(size)), bytes(size, size));
  assert.equal(loads, 0);
  assert.equal(loaded.calls, 0);

  // A message of `from` bytes loads the cipher and goes through it; so does all that follows.
  const sealed = seal(1000);
  assert.equal(loads, 1);
  assert.equal(loaded.calls, 1);
  assert.deepEqual(
    sealed,
    flat(pureJsCrypto.chaCha20Poly1305Encrypt(bytes(1000, 1000), nonce, ad, key)),
  );
  assert.deepEqual(open(seal(76)), bytes(76, 76));
  assert.deepEqual(open(sealed), bytes(1000, 1000));
  assert.equal(loaded.calls, 4);
  assert.equal(loads, 1, "loaded once");
});

Deno.test("noise crypto on demand: an opened message of `from` bytes loads it too", () => {
  const loaded = countingCipher();
  const crypto = denoNoiseCrypto({ aeadOnDemand: { load: () => loaded, from: 1000 } });
  const sealed = flat(pureJsCrypto.chaCha20Poly1305Encrypt(bytes(984, 5), nonce, ad, key));
  assert.deepEqual(flat(crypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, key)), bytes(984, 5));
  assert.equal(loaded.calls, 1, "984 bytes of plaintext, 1000 of ciphertext");
});

Deno.test("noise crypto on demand: without a cipher to load, the built-in ones go on", () => {
  let loads = 0;
  const crypto = denoNoiseCrypto({
    aeadOnDemand: { load: () => (loads++, undefined), from: 100 },
  });
  for (const size of [10, 100, 5000, 10]) {
    const sealed = flat(crypto.chaCha20Poly1305Encrypt(bytes(size, 1), nonce, ad, key));
    assert.deepEqual(
      flat(pureJsCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, key)),
      bytes(size, 1),
    );
  }
  assert.equal(loads, 1, "tried once, not per message");
});
