/**
 * The version of p2p; the release workflow checks it against the tag and deno.json.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { VERSION } from "./version.ts";
 *
 * assert.match(VERSION, /^\d+\.\d+\.\d+(-[\w.]+)?$/);
 * ```
 */
export const VERSION = "0.1.0";

/**
 * The identify agent version p2p nodes announce.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { AGENT_VERSION, VERSION } from "./version.ts";
 *
 * assert.equal(AGENT_VERSION, `p2p/${VERSION}`);
 * ```
 */
export const AGENT_VERSION: string = `p2p/${VERSION}`;
