/**
 * The noise cipher of p2p nodes: `@libp2p/noise`'s default crypto with ChaCha20-Poly1305 run by
 * the host's OpenSSL (`openssl_aead.ts`) where the process may load it, else by `node:crypto`
 * for every size.
 *
 * `@libp2p/noise` itself seals messages under 1200 bytes with a WebAssembly cipher
 * (`@chainsafe/as-chacha20poly1305`). It is not used here: the release bundle replaces it with
 * a stand-in on `node:crypto` (`scripts/stand_ins/`), as compiling it cost every process about
 * 3 MiB of RSS, for 1–2 µs per small message that only the fallback without OpenSSL would save
 * (README, Performance). The wire format is unchanged.
 *
 * Sealing hands back the ciphertext and the tag as two pieces instead of `@libp2p/noise`'s
 * one concatenated copy: the TCP writer copies every frame into its write buffer anyway, so
 * the concatenation was a second copy (and allocation) of every 64 KiB message.
 *
 * @module
 */
import { createCipheriv } from "node:crypto";
import { defaultCrypto, nodeCrypto } from "@libp2p/noise/crypto";
import type { ICryptoInterface } from "@libp2p/noise";
import { Uint8ArrayList } from "uint8arraylist";
import { CHACHA_TAG_BYTES } from "./deno_tcp_constants.ts";
import type { AeadCipher } from "./openssl_aead.ts";

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

/**
 * The noise crypto of p2p nodes (see the module documentation).
 *
 * @param aead A cipher for every size (OpenSSL's); without one, node:crypto's.
 * @returns An `ICryptoInterface` for `noise({ crypto })`.
 */
export function denoNoiseCrypto(aead?: AeadCipher): ICryptoInterface {
  if (aead !== undefined) {
    return {
      ...defaultCrypto,
      chaCha20Poly1305Encrypt: (plaintext, nonce, ad, k) => aead.seal(plaintext, nonce, ad, k),
      chaCha20Poly1305Decrypt: (ciphertext, nonce, ad, k, dst) =>
        aead.open(ciphertext, nonce, ad, k, dst),
    };
  }
  return {
    ...defaultCrypto,
    chaCha20Poly1305Encrypt: sealWithNodeCrypto,
    chaCha20Poly1305Decrypt: nodeCrypto.chaCha20Poly1305Decrypt,
  };
}

/**
 * `@libp2p/noise`'s own node:crypto functions for every size (one concatenated copy per sealed
 * message): the `noise:node` tuning, to compare with {@linkcode denoNoiseCrypto}.
 *
 * @returns An `ICryptoInterface` for `noise({ crypto })`.
 */
export function stockNodeNoiseCrypto(): ICryptoInterface {
  return { ...defaultCrypto, ...nodeCrypto };
}
