/**
 * Signing and verifying frames with libp2p keys. Pure computation: no IO.
 *
 * @module
 */

import type { PrivateKey } from "@libp2p/interface";
import { publicKeyFromProtobuf, publicKeyToProtobuf } from "@libp2p/crypto/keys";
import { peerIdFromPublicKey } from "@libp2p/peer-id";
import { type Frame, type FrameFields, signingPayload } from "./frame.ts";

/**
 * Signs frame fields with a node's private key.
 *
 * @param privateKey The signer's libp2p private key.
 * @param fields The fields to sign.
 * @returns The complete frame, with the public key and the signature.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateKeyPair } from "@libp2p/crypto/keys";
 * import { signFrame, verifyFrame } from "./signature.ts";
 *
 * const key = await generateKeyPair("Ed25519");
 * const frame = await signFrame(key, {
 *   kind: "send",
 *   type: "greet",
 *   encoding: "json",
 *   body: new TextEncoder().encode('"hi"'),
 *   timestamp: Date.now(),
 *   nonce: "n1",
 *   recipient: "12D3KooWPeer",
 *   replyTo: "",
 * });
 * assert.equal((await verifyFrame(frame)).valid, true);
 * ```
 */
export async function signFrame(privateKey: PrivateKey, fields: FrameFields): Promise<Frame> {
  const signed = await privateKey.sign(signingPayload(fields));
  // A plain Uint8Array view, whatever the key implementation returns (node Buffer).
  const signature = new Uint8Array(signed.buffer, signed.byteOffset, signed.byteLength);
  return { ...fields, publicKey: publicKeyToProtobuf(privateKey.publicKey), signature };
}

/** The outcome of {@linkcode verifyFrame}. */
export interface FrameVerification {
  /** Whether the signature verifies with the frame's public key. */
  valid: boolean;
  /** The peer ID of the frame's public key; `""` when the key cannot be read. */
  signer: string;
}

/**
 * Verifies a frame's signature against the public key it carries, and tells whose key it is.
 * Callers must still check that the signer is the peer they expect.
 *
 * @param frame The frame.
 * @returns Whether the signature is valid, and the signer's peer ID.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateKeyPair } from "@libp2p/crypto/keys";
 * import { peerIdFromPrivateKey } from "@libp2p/peer-id";
 * import { signFrame, verifyFrame } from "./signature.ts";
 *
 * const key = await generateKeyPair("Ed25519");
 * const frame = await signFrame(key, {
 *   kind: "send",
 *   type: "greet",
 *   encoding: "bytes",
 *   body: new Uint8Array([1]),
 *   timestamp: 1,
 *   nonce: "n",
 *   recipient: "r",
 *   replyTo: "",
 * });
 * assert.deepEqual(await verifyFrame(frame), {
 *   valid: true,
 *   signer: peerIdFromPrivateKey(key).toString(),
 * });
 * const tampered = { ...frame, body: new Uint8Array([2]) };
 * assert.equal((await verifyFrame(tampered)).valid, false);
 * ```
 */
export async function verifyFrame(frame: Frame): Promise<FrameVerification> {
  let signer = "";
  try {
    const publicKey = publicKeyFromProtobuf(frame.publicKey);
    signer = peerIdFromPublicKey(publicKey).toString();
    const valid = await publicKey.verify(signingPayload(frame), frame.signature);
    return { valid, signer };
  } catch {
    return { valid: false, signer };
  }
}
