/**
 * Errors thrown by the token layer.
 *
 * @module
 */

/**
 * Thrown when a network token cannot be decoded or encoded: it is empty, not base64, not a YAML
 * mapping, or a field is missing or out of range. The message never contains the token or a key.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeToken, InvalidTokenError } from "@p2p/p2p";
 *
 * assert.throws(() => decodeToken("!!!"), InvalidTokenError);
 * assert.throws(() => decodeToken("!!!"), { message: "Cannot decode token: not base64" });
 * ```
 */
export class InvalidTokenError extends Error {
  /**
   * Constructs a new instance.
   *
   * @param message The error message, without any secret.
   * @param options The underlying `cause`, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InvalidTokenError";
  }
}

/**
 * Thrown when a sealed message cannot be opened: it is not hex, it is shorter than a nonce and a
 * tag, or authentication failed (wrong key or tampered data).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnsealError } from "./errors.ts";
 * import { unseal } from "./seal.ts";
 *
 * assert.throws(() => unseal("0123456789abcdef0123456789abcdef", "zz"), UnsealError);
 * ```
 */
export class UnsealError extends Error {
  /**
   * Constructs a new instance.
   *
   * @param message The error message, without any secret.
   * @param options The underlying `cause`, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnsealError";
  }
}
