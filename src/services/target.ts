/**
 * A `HOST:PORT` flag value that cannot be used.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidAddressError, parseTarget } from "./target.ts";
 *
 * assert.throws(() => parseTarget("localhost", "--target"), InvalidAddressError);
 * assert.throws(() => parseTarget("127.0.0.1:70000", "--listen"), {
 *   name: "InvalidAddressError",
 *   message: 'Cannot use --listen "127.0.0.1:70000": expected HOST:PORT',
 * });
 * ```
 */
export class InvalidAddressError extends Error {
  /**
   * Creates the error.
   *
   * @param message What is wrong, naming the value.
   */
  constructor(message: string) {
    super(message);
    this.name = "InvalidAddressError";
  }
}

/** A parsed TCP address. */
export interface HostPort {
  /** The host name or IP address, without brackets. */
  hostname: string;
  /** The TCP port, 0 to 65535. */
  port: number;
}

/**
 * Parses `HOST:PORT`, `[v6]:PORT` or `:PORT` (host defaults to `defaultHost`).
 *
 * @throws {InvalidAddressError} Naming `flag` and the value.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTarget } from "./target.ts";
 *
 * assert.deepEqual(parseTarget("127.0.0.1:8080", "--target"), { hostname: "127.0.0.1", port: 8080 });
 * assert.deepEqual(parseTarget(":9000", "--listen"), { hostname: "0.0.0.0", port: 9000 });
 * assert.throws(() => parseTarget("nope", "--target"), /Cannot use --target "nope"/);
 * ```
 */
export function parseTarget(text: string, flag: string, defaultHost = "0.0.0.0"): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:\s]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (match === null || !Number.isInteger(port) || port > 65535) {
    throw new InvalidAddressError(`Cannot use ${flag} "${text}": expected HOST:PORT`);
  }
  return { hostname: match[1] ?? (match[2] || defaultHost), port };
}
