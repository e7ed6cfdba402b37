/**
 * What the release bundle imports instead of `@chainsafe/as-chacha20poly1305`
 * (`scripts/bundle.ts` copies it beside the chunks).
 *
 * `@libp2p/noise` imports that package for its small-message cipher and compiles its
 * WebAssembly when the module loads, whatever crypto the node is given. p2p nodes seal with
 * OpenSSL where they can, and never call it then, yet the compiled module cost every process
 * about 3 MiB of RSS (README, Performance). This module keeps the API `@libp2p/noise` calls and
 * runs it on `node:crypto` (the fallback cipher's tiny messages, where OpenSSL is not used): the
 * same bytes, nothing compiled.
 *
 * @module
 */
import { createCipheriv, createDecipheriv } from "node:crypto";

const ALGORITHM = "chacha20-poly1305";
const TAG_BYTES = 16;

/** The package's WebAssembly context: nothing to hold here. */
export function newInstance() {
  return {};
}

/** ChaCha20-Poly1305 with the sealed form `ciphertext ‖ tag`, as the original. */
export class ChaCha20Poly1305 {
  /** @param {unknown} _context The value of {@linkcode newInstance} (unused). */
  constructor(_context) {}

  /**
   * @param {Uint8Array} key 32 bytes.
   * @param {Uint8Array} nonce 12 bytes.
   * @param {Uint8Array} plaintext
   * @param {Uint8Array} [associatedData]
   * @param {Uint8Array} [dst] Where to write the sealed bytes (exactly plaintext + 16 long).
   * @returns {Uint8Array} The ciphertext followed by the tag.
   */
  seal(key, nonce, plaintext, associatedData, dst) {
    const length = plaintext.byteLength + TAG_BYTES;
    if (dst !== undefined && dst.byteLength !== length) {
      throw new Error(`Cannot seal: dst is ${dst.byteLength} bytes, expected ${length}`);
    }
    const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
    if (associatedData !== undefined) {
      cipher.setAAD(associatedData, { plaintextLength: plaintext.byteLength });
    }
    const ciphertext = cipher.update(plaintext);
    cipher.final();
    const sealed = dst ?? new Uint8Array(length);
    sealed.set(ciphertext, 0);
    sealed.set(cipher.getAuthTag(), plaintext.byteLength);
    return sealed;
  }

  /**
   * @param {Uint8Array} key 32 bytes.
   * @param {Uint8Array} nonce 12 bytes.
   * @param {Uint8Array} sealed The ciphertext followed by the tag.
   * @param {Uint8Array} [associatedData]
   * @param {Uint8Array} [dst] Where to write the plaintext (exactly sealed − 16 long).
   * @returns {Uint8Array | null} The plaintext, or `null` when the tag does not match.
   */
  open(key, nonce, sealed, associatedData, dst) {
    if (sealed.byteLength < TAG_BYTES) return null;
    const length = sealed.byteLength - TAG_BYTES;
    if (dst !== undefined && dst.byteLength !== length) {
      throw new Error(`Cannot open: dst is ${dst.byteLength} bytes, expected ${length}`);
    }
    const decipher = createDecipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
    if (associatedData !== undefined) {
      decipher.setAAD(associatedData, { plaintextLength: length });
    }
    decipher.setAuthTag(sealed.subarray(length));
    const plaintext = decipher.update(sealed.subarray(0, length));
    try {
      decipher.final();
    } catch {
      return null;
    }
    if (dst === undefined) return plaintext;
    dst.set(plaintext, 0);
    return dst;
  }
}
