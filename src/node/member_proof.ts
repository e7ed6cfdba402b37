/**
 * The membership challenge: two peers prove to each other that they hold the network token,
 * without sending anything an eavesdropper or a relaying outsider could reuse. Pure: the
 * HMACs only; {@linkcode Membership} runs them over a stream.
 *
 * Wire (`/p2p/membership/1.0.0`, fixed sizes): the initiator sends a 32-byte nonce `na`;
 * the responder answers its own nonce `nb` and `proof(responder)`; the initiator answers
 * `proof(initiator)`. Each proof binds both peer IDs and both roles, so a proof made for
 * one pair of peers proves nothing for another (an outsider cannot relay a member's answer).
 *
 * @module
 */

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** Bytes of a nonce and of a proof on the wire. */
export const PROOF_BYTES = 32;

/** Which side of the challenge a proof is for. */
export type ProofRole = "initiator" | "responder";

/** The peers and nonces a proof binds. */
export interface ProofContext {
  /** The initiator's peer ID. */
  initiator: string;
  /** The responder's peer ID. */
  responder: string;
  /** The initiator's nonce. */
  initiatorNonce: Uint8Array;
  /** The responder's nonce (`undefined` in the responder's proof: it binds only `na`). */
  responderNonce?: Uint8Array;
}

/**
 * A fresh random nonce.
 *
 * @returns {@linkcode PROOF_BYTES} random bytes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { newNonce, PROOF_BYTES } from "./member_proof.ts";
 *
 * assert.equal(newNonce().byteLength, PROOF_BYTES);
 * assert.notDeepEqual(newNonce(), newNonce());
 * ```
 */
export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(PROOF_BYTES));
}

/**
 * The proof a side sends: HMAC-SHA256 keyed with the network's membership secret over the
 * role, both peer IDs and the nonces.
 *
 * @param secret The membership secret (`memberSecret(token, "membership")`).
 * @param role Whose proof it is.
 * @param context The peers and nonces.
 * @returns {@linkcode PROOF_BYTES} bytes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { memberProof, newNonce, verifyMemberProof } from "./member_proof.ts";
 *
 * const secret = new Uint8Array(32).fill(7);
 * const context = { initiator: "A", responder: "B", initiatorNonce: newNonce() };
 * const proof = memberProof(secret, "responder", context);
 * assert.equal(verifyMemberProof(secret, "responder", context, proof), true);
 * // The same bytes prove nothing for another initiator.
 * const relayed = { ...context, initiator: "C" };
 * assert.equal(verifyMemberProof(secret, "responder", relayed, proof), false);
 * ```
 */
export function memberProof(
  secret: Uint8Array,
  role: ProofRole,
  context: ProofContext,
): Uint8Array {
  const mac = createHmac("sha256", secret);
  mac.update(`p2p/membership/1\n${role}\n${context.initiator}\n${context.responder}\n`);
  mac.update(context.initiatorNonce);
  if (context.responderNonce !== undefined) mac.update(context.responderNonce);
  return new Uint8Array(mac.digest());
}

/**
 * Whether `proof` is the proof `role` must send in `context`, compared in constant time.
 *
 * @param secret The membership secret.
 * @param role Whose proof it claims to be.
 * @param context The peers and nonces.
 * @param proof The bytes received.
 * @returns `true` when it matches.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { memberProof, newNonce, verifyMemberProof } from "./member_proof.ts";
 *
 * const context = { initiator: "A", responder: "B", initiatorNonce: newNonce() };
 * const proof = memberProof(new Uint8Array(32), "initiator", context);
 * assert.equal(verifyMemberProof(new Uint8Array(32).fill(1), "initiator", context, proof), false);
 * ```
 */
export function verifyMemberProof(
  secret: Uint8Array,
  role: ProofRole,
  context: ProofContext,
  proof: Uint8Array,
): boolean {
  const expected = memberProof(secret, role, context);
  return proof.byteLength === expected.byteLength && timingSafeEqual(proof, expected);
}
