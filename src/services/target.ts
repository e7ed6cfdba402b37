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
   * @param options The underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
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

/**
 * Why binding a listener failed, in words a user can act on.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { listenFailure } from "./target.ts";
 *
 * assert.equal(listenFailure(new Deno.errors.AddrInUse("os error 98")), "the address is already in use");
 * ```
 */
export function listenFailure(err: unknown): string {
  if (err instanceof Deno.errors.AddrInUse) return "the address is already in use";
  if (err instanceof Deno.errors.AddrNotAvailable) return "no interface of this machine has it";
  if (err instanceof Deno.errors.PermissionDenied) {
    return "permission denied (ports below 1024 need privileges)";
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Binds a TCP listener on the `HOST:PORT` a flag gave; every failure names the flag and value.
 *
 * @param text The flag's value.
 * @param flag The flag (`--listen`), for errors.
 * @param defaultHost The host of `:PORT`.
 * @throws {InvalidAddressError} The value is not `HOST:PORT`, or it cannot be bound.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidAddressError, listenTcp } from "./target.ts";
 *
 * using first = listenTcp("127.0.0.1:0", "--listen", "127.0.0.1");
 * const taken = `127.0.0.1:${first.addr.port}`;
 * assert.throws(() => listenTcp(taken, "--listen", "127.0.0.1"), {
 *   name: "InvalidAddressError",
 *   message: `Cannot listen on --listen "${taken}": the address is already in use`,
 * });
 * ```
 */
export function listenTcp(text: string, flag: string, defaultHost: string): Deno.TcpListener {
  const { hostname, port } = parseTarget(text, flag, defaultHost);
  try {
    return Deno.listen({ hostname, port });
  } catch (err) {
    throw new InvalidAddressError(`Cannot listen on ${flag} "${text}": ${listenFailure(err)}`, {
      cause: err,
    });
  }
}
