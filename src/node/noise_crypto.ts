/**
 * The noise cipher of p2p nodes: `@libp2p/noise`'s default crypto with the size at which
 * ChaCha20-Poly1305 moves from the WASM implementation (`@chainsafe/as-chacha20poly1305`) to
 * `node:crypto` tuned for Deno.
 *
 * The default switches at 1200 bytes, measured on Node.js. Under Deno 2.9 `node:crypto` costs
 * about 5–7 µs per message whatever its size (each message builds a `Cipheriv`, a node
 * Transform stream) and then runs several times faster than the WASM code, which has no fixed
 * cost. Best of 7 here (µs per message, encrypt | decrypt):
 *
 * | bytes | node:crypto  | WASM         |
 * | ----- | ------------ | ------------ |
 * | 76    | 7.4 \| 4.3   | 3.4 \| 2.9   |
 * | 256   | 6.4 \| 5.1   | 4.7 \| 6.8   |
 * | 512   | 6.8 \| 4.7   | 7.6 \| 9.0   |
 * | 1024  | 7.4 \| 6.8   | 14.5 \| 15.2 |
 * | 65519 | 115 \| 68    | 897 \| 755   |
 *
 * So WASM stays for the tiny messages (yamux window updates, a request of a few bytes), and
 * `node:crypto` takes everything from a few hundred bytes on. The wire format is unchanged.
 *
 * Where the host's OpenSSL can be used (`openssl_aead.ts`), it takes every size instead: from
 * the start, or (`aeadOnDemand`) from the first bulk message on, so that a node that carries
 * no tunnels does not map the library (about 5.5 MiB of RSS).
 *
 * The release bundle does not load the WASM code: it imports a stand-in on `node:crypto` in its
 * place (`scripts/stand_ins/`), as compiling the module cost every process about 3 MiB of RSS
 * whatever cipher it ran. There the tiny messages go through `node:crypto` too.
 *
 * Sealing hands back the ciphertext and the tag as two pieces instead of `@libp2p/noise`'s
 * one concatenated copy: the TCP writer copies every frame into its write buffer anyway, so
 * the concatenation was a second copy (and allocation) of every 64 KiB message.
 *
 * @module
 */
import { createCipheriv } from "node:crypto";
import { asCrypto, defaultCrypto, nodeCrypto } from "@libp2p/noise/crypto";
import type { ICryptoInterface } from "@libp2p/noise";
import { Uint8ArrayList } from "uint8arraylist";
import {
  CHACHA_TAG_BYTES,
  NOISE_DECRYPT_NODE_FROM,
  NOISE_ENCRYPT_NODE_FROM,
} from "./deno_tcp_constants.ts";
import type { AeadCipher } from "./openssl_aead.ts";
import type { BufferPool } from "./buffer_pool.ts";
import type { SendSlabs } from "./send_slabs.ts";

/** Seals `plaintext` with node:crypto; the result is the ciphertext, then the tag. */
function sealWithNodeCrypto(
  plaintext: Uint8Array | Uint8ArrayList,
  nonce: Uint8Array,
  ad: Uint8Array,
  k: Uint8Array,
): Uint8Array | Uint8ArrayList {
  if (!(plaintext instanceof Uint8Array)) {
    return nodeCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k);
  }
  const cipher = createCipheriv("chacha20-poly1305", k, nonce, { authTagLength: CHACHA_TAG_BYTES });
  cipher.setAAD(ad, { plaintextLength: plaintext.byteLength });
  const sealed = cipher.update(plaintext);
  // A stream cipher: `final` only computes the tag, it returns no bytes.
  cipher.final();
  return new Uint8ArrayList(sealed, cipher.getAuthTag());
}

/** Where node:crypto takes over from WASM, in bytes of plaintext / ciphertext. */
export interface NoiseCryptoThresholds {
  /** @default {NOISE_ENCRYPT_NODE_FROM} */
  encryptFrom?: number;
  /** @default {NOISE_DECRYPT_NODE_FROM} */
  decryptFrom?: number;
  /**
   * A cipher for every size instead (OpenSSL's, faster than both built-in ones at every
   * size): the thresholds are then unused.
   */
  aead?: AeadCipher | undefined;
  /**
   * A cipher for every size, loaded by the first message of at least `from` bytes (either
   * way); the thresholds serve until then, and for good if `load` finds none. A node that
   * never carries bulk never pays for the cipher's library. Ignored when `aead` is given.
   */
  aeadOnDemand?: { load: () => AeadCipher | undefined; from: number };
  /**
   * Where the loaded cipher seals messages of exactly their size (full noise messages): lent
   * buffers the TCP writer gives back once written, instead of a new one per message.
   */
  sealBuffers?: BufferPool;
  /** Told of every plaintext piece once sealed, so a tunnel's read slabs can be reused. */
  sendSlabs?: SendSlabs;
}

/** Which cipher takes a message of `bytes`: the loaded one, or `undefined` (the built-in). */
type CipherPick = (bytes: number) => AeadCipher | undefined;

function cipherPick(thresholds: NoiseCryptoThresholds): CipherPick {
  const aead = thresholds.aead;
  if (aead !== undefined) return () => aead;
  const onDemand = thresholds.aeadOnDemand;
  if (onDemand === undefined) return () => undefined;
  let loaded: { aead: AeadCipher | undefined } | undefined;
  return (bytes) => {
    if (loaded === undefined) {
      if (bytes < onDemand.from) return undefined;
      loaded = { aead: onDemand.load() };
    }
    return loaded.aead;
  };
}

/**
 * The noise crypto with Deno-tuned thresholds (see the module documentation).
 *
 * @param thresholds Override the sizes (0 = node:crypto for everything).
 * @returns An `ICryptoInterface` for `noise({ crypto })`.
 */
export function denoNoiseCrypto(thresholds: NoiseCryptoThresholds = {}): ICryptoInterface {
  const encryptFrom = thresholds.encryptFrom ?? NOISE_ENCRYPT_NODE_FROM;
  const decryptFrom = thresholds.decryptFrom ?? NOISE_DECRYPT_NODE_FROM;
  const pick = cipherPick(thresholds);
  const buffers = thresholds.sealBuffers;
  const slabs = thresholds.sendSlabs;
  const seal: ICryptoInterface["chaCha20Poly1305Encrypt"] = (plaintext, nonce, ad, k) => {
    const aead = pick(plaintext.byteLength);
    if (aead !== undefined) {
      const reused = buffers !== undefined &&
          plaintext.byteLength + CHACHA_TAG_BYTES === buffers.size
        ? buffers.take()
        : undefined;
      return aead.seal(plaintext, nonce, ad, k, reused);
    }
    return plaintext.byteLength < encryptFrom
      ? asCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
      : sealWithNodeCrypto(plaintext, nonce, ad, k);
  };
  return {
    ...defaultCrypto,
    chaCha20Poly1305Encrypt(plaintext, nonce, ad, k) {
      const sealed = seal(plaintext, nonce, ad, k);
      // Every cipher above seals out of place: the plaintext is never read again.
      if (slabs !== undefined) {
        if (plaintext instanceof Uint8Array) slabs.sealed(plaintext);
        else for (const piece of plaintext) slabs.sealed(piece);
      }
      return sealed;
    },
    chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst) {
      const aead = pick(ciphertext.byteLength);
      if (aead !== undefined) return aead.open(ciphertext, nonce, ad, k, dst);
      return ciphertext.byteLength < decryptFrom
        ? asCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
        : nodeCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst);
    },
  };
}
