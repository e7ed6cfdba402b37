/**
 * ChaCha20-Poly1305 from the host's OpenSSL (`libcrypto`) through Deno's FFI: the cipher
 * `ssh` runs, with its assembly. Noise must run it on every byte of every connection, and
 * Deno's `node:crypto` (Rust, no assembly) is about half as fast; the WASM cipher three to
 * four times slower on small messages. Measured on the AMD EPYC (µs per message, seal | open):
 *
 * | bytes | OpenSSL (FFI) | node:crypto   |
 * | ----- | ------------- | ------------- |
 * | 64    | 0.84 \| 0.84  | 2.82 \| 2.06  |
 * | 1024  | 1.66 \| 1.72  | 5.09 \| 3.86  |
 * | 16384 | 7.9 \| 8.1    | 19.8 \| 12.7  |
 * | 65519 | 22.1 \| 20.9  | 42.8 \| 39.3  |
 *
 * Used only where it is safe to: on Linux, when the process was granted `--allow-ffi` (it is
 * never prompted for), when `libcrypto` loads, and when it passes a known-answer test against
 * `node:crypto` at load. Anywhere else {@linkcode loadOpenSslAead} returns `undefined` and the
 * node keeps the built-in ciphers. The wire format is the same either way.
 *
 * @module
 */
import { createCipheriv } from "node:crypto";
import { getLogger } from "@logtape/logtape";
import { Uint8ArrayList } from "uint8arraylist";
import { equals } from "uint8arrays/equals";
import { CHACHA_TAG_BYTES } from "./deno_tcp_constants.ts";
import { permissionGranted } from "./permissions.ts";

const log = getLogger(["p2p", "node"]);

/** Bytes of a ChaCha20-Poly1305 key and nonce (its tag: `CHACHA_TAG_BYTES`). */
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
/** `EVP_CTRL_AEAD_GET_TAG` / `EVP_CTRL_AEAD_SET_TAG` of OpenSSL's `evp.h`. */
const EVP_CTRL_AEAD_GET_TAG = 0x10;
const EVP_CTRL_AEAD_SET_TAG = 0x11;
/** The library names tried, newest first (the EVP calls used exist since OpenSSL 1.1.0). */
const LIBCRYPTO_NAMES = ["libcrypto.so.3", "libcrypto.so.1.1"];

const SYMBOLS = {
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_chacha20_poly1305: { parameters: [], result: "pointer" },
  EVP_EncryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_DecryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_EncryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_DecryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_EncryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_DecryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
} as const;

/** An authenticated cipher with noise's `ICryptoInterface` argument order. */
export interface AeadCipher {
  /** Where it comes from, for logs (`libcrypto.so.3`). */
  readonly source: string;
  /**
   * Seals `plaintext`: the ciphertext followed by the 16-byte tag, in `dst` when it has
   * exactly that size (a reused buffer), else in one new buffer.
   *
   * @throws {Error} OpenSSL refused the call (a bad key or nonce length).
   */
  seal(
    plaintext: Uint8Array | Uint8ArrayList,
    nonce: Uint8Array,
    ad: Uint8Array,
    key: Uint8Array,
    dst?: Uint8Array,
  ): Uint8Array;
  /**
   * Opens `ciphertext` (tag last) into `dst` when given (it may be the ciphertext's own bytes:
   * decryption in place), else into a new buffer.
   *
   * @throws {Error} The tag does not match: the message was altered or the key is wrong.
   */
  open(
    ciphertext: Uint8Array | Uint8ArrayList,
    nonce: Uint8Array,
    ad: Uint8Array,
    key: Uint8Array,
    dst?: Uint8Array,
  ): Uint8Array;
}

/**
 * Loads ChaCha20-Poly1305 from the host's `libcrypto`, if this process may and it works.
 *
 * @returns The cipher, or `undefined` (not Linux, no `--allow-ffi`, no library, or a
 * known-answer mismatch).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadOpenSslAead } from "./openssl_aead.ts";
 *
 * const aead = loadOpenSslAead();
 * if (aead !== undefined) {
 *   const key = new Uint8Array(32).fill(7);
 *   const nonce = new Uint8Array(12);
 *   const sealed = aead.seal(new TextEncoder().encode("hi"), nonce, new Uint8Array(), key);
 *   assert.equal(sealed.byteLength, 2 + 16);
 *   const opened = aead.open(sealed, nonce, new Uint8Array(), key);
 *   assert.equal(new TextDecoder().decode(opened), "hi");
 * }
 * ```
 */
export function loadOpenSslAead(): AeadCipher | undefined {
  if (Deno.build.os !== "linux" || !permissionGranted({ name: "ffi" })) return undefined;
  for (const name of LIBCRYPTO_NAMES) {
    let library: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      library = Deno.dlopen(name, SYMBOLS);
    } catch {
      continue;
    }
    const aead = bindAead(library, name);
    if (aead !== undefined && passesKnownAnswer(aead)) return aead;
    library.close();
  }
  return undefined;
}

/** The process's cipher, once loaded (see {@linkcode sharedOpenSslAead}). */
let shared: { aead: AeadCipher | undefined } | undefined;

/**
 * The process's OpenSSL cipher, loaded on the first call: one library handle and two OpenSSL
 * contexts for every node of the process (a cipher call runs to its end synchronously, so
 * nodes never interleave on a context), kept for the process's life like the library itself.
 *
 * @returns The cipher, or `undefined` where {@linkcode loadOpenSslAead} finds none.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { sharedOpenSslAead } from "./openssl_aead.ts";
 *
 * assert.equal(sharedOpenSslAead(), sharedOpenSslAead());
 * ```
 */
export function sharedOpenSslAead(): AeadCipher | undefined {
  if (shared === undefined) {
    shared = { aead: loadOpenSslAead() };
    if (shared.aead !== undefined) {
      log.debug("Noise cipher: OpenSSL ({source}) through FFI", { source: shared.aead.source });
    } else {
      log.debug(
        "Noise cipher: the built-in ones (OpenSSL needs Linux, --allow-ffi and libcrypto.so.3 or .so.1.1)",
      );
    }
  }
  return shared.aead;
}

function bindAead(
  library: Deno.DynamicLibrary<typeof SYMBOLS>,
  source: string,
): AeadCipher | undefined {
  const c = library.symbols;
  const cipher = c.EVP_chacha20_poly1305();
  const sealing = c.EVP_CIPHER_CTX_new();
  const opening = c.EVP_CIPHER_CTX_new();
  if (cipher === null || sealing === null || opening === null) return undefined;
  if (
    c.EVP_EncryptInit_ex(sealing, cipher, null, null, null) !== 1 ||
    c.EVP_DecryptInit_ex(opening, cipher, null, null, null) !== 1
  ) return undefined;
  // OpenSSL writes the byte count of each call here; unused (a stream cipher: all of it).
  const written = new Uint8Array(4);
  // The output of the final calls, which write nothing for this cipher.
  const finalOut = new Uint8Array(CHACHA_TAG_BYTES);
  const check = (ok: number, what: string): void => {
    if (ok !== 1) throw new Error(`Cannot ${what} with OpenSSL's ChaCha20-Poly1305`);
  };
  // OpenSSL reads 32 and 12 bytes behind these pointers, whatever the arrays hold.
  const checkSizes = (key: Uint8Array, nonce: Uint8Array): void => {
    if (key.byteLength !== KEY_BYTES || nonce.byteLength !== NONCE_BYTES) {
      throw new RangeError(
        `Cannot use a ${key.byteLength}-byte key and ${nonce.byteLength}-byte nonce: ChaCha20-Poly1305 takes ${KEY_BYTES} and ${NONCE_BYTES}`,
      );
    }
  };
  return {
    source,
    seal(plaintext, nonce, ad, key, dst) {
      checkSizes(key, nonce);
      const length = plaintext.byteLength;
      const out = dst !== undefined && dst.byteLength === length + CHACHA_TAG_BYTES
        ? dst
        : new Uint8Array(length + CHACHA_TAG_BYTES);
      check(c.EVP_EncryptInit_ex(sealing, null, null, key, nonce), "set the key and nonce");
      if (ad.byteLength > 0) {
        check(c.EVP_EncryptUpdate(sealing, null, written, ad, ad.byteLength), "add data");
      }
      let offset = 0;
      for (const chunk of plaintext instanceof Uint8Array ? [plaintext] : plaintext) {
        if (chunk.byteLength === 0) continue;
        check(
          c.EVP_EncryptUpdate(sealing, out.subarray(offset), written, chunk, chunk.byteLength),
          "seal",
        );
        offset += chunk.byteLength;
      }
      const tag = out.subarray(length);
      check(c.EVP_EncryptFinal_ex(sealing, finalOut, written), "seal");
      check(
        c.EVP_CIPHER_CTX_ctrl(sealing, EVP_CTRL_AEAD_GET_TAG, CHACHA_TAG_BYTES, tag),
        "get the tag",
      );
      return out;
    },
    open(ciphertext, nonce, ad, key, dst) {
      checkSizes(key, nonce);
      const length = ciphertext.byteLength - CHACHA_TAG_BYTES;
      if (length < 0) {
        throw new Error("Cannot open a ChaCha20-Poly1305 message: shorter than its tag");
      }
      const out = dst !== undefined && dst.byteLength === length ? dst : new Uint8Array(length);
      // Contiguous (a copy only if it spans chunks); decryption in place writes before it.
      const tag = ciphertext.subarray(length);
      check(c.EVP_DecryptInit_ex(opening, null, null, key, nonce), "set the key and nonce");
      if (ad.byteLength > 0) {
        check(c.EVP_DecryptUpdate(opening, null, written, ad, ad.byteLength), "add data");
      }
      let offset = 0;
      // The pieces as they are, up to the tag (no sublist of them).
      for (const piece of ciphertext instanceof Uint8Array ? [ciphertext] : ciphertext) {
        const take = Math.min(piece.byteLength, length - offset);
        if (take <= 0) break;
        check(
          c.EVP_DecryptUpdate(opening, out.subarray(offset), written, piece, take),
          "open",
        );
        offset += take;
      }
      check(
        c.EVP_CIPHER_CTX_ctrl(opening, EVP_CTRL_AEAD_SET_TAG, CHACHA_TAG_BYTES, tag),
        "set the tag",
      );
      if (c.EVP_DecryptFinal_ex(opening, finalOut, written) !== 1) {
        throw new Error("Cannot open a ChaCha20-Poly1305 message: the tag does not match");
      }
      return out;
    },
  };
}

/** Whether `aead` seals as `node:crypto` does, opens that, and refuses an altered byte. */
function passesKnownAnswer(aead: AeadCipher): boolean {
  try {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
    const nonce = Uint8Array.from({ length: 12 }, (_, i) => i * 3);
    const ad = Uint8Array.of(1, 2, 3);
    const plaintext = Uint8Array.from({ length: 300 }, (_, i) => (i * 13) & 0xff);
    const reference = createCipheriv("chacha20-poly1305", key, nonce, {
      authTagLength: CHACHA_TAG_BYTES,
    });
    reference.setAAD(ad, { plaintextLength: plaintext.byteLength });
    const expected = new Uint8ArrayList(reference.update(plaintext), reference.final());
    expected.append(reference.getAuthTag());
    const sealed = aead.seal(
      new Uint8ArrayList(plaintext.subarray(0, 100), plaintext.subarray(100)),
      nonce,
      ad,
      key,
    );
    if (!equals(sealed, expected.subarray())) return false;
    if (!equals(aead.open(sealed, nonce, ad, key), plaintext)) return false;
    sealed[5]! ^= 1;
    try {
      aead.open(sealed, nonce, ad, key);
      return false;
    } catch {
      return true;
    }
  } catch {
    return false;
  }
}
