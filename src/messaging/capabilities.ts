/**
 * Capability matching for `findPeers`. Pure: no IO.
 *
 * @module
 */

import { isDeepStrictEqual } from "node:util";

/** Free-form capabilities a member advertises, e.g. `{ models: ["llama3"], gpu: true }`. */
export type Capabilities = Record<string, unknown>;

/**
 * Tells whether advertised capabilities satisfy a query. Every key of the query must match:
 *
 * - query array: every item is in the advertised array;
 * - query object: matches the advertised object by the same rule (recursively);
 * - query scalar: equals the advertised value, or is an item of the advertised array.
 *
 * Keys the query does not name are ignored; an empty query matches everything.
 *
 * @param query The wanted capabilities.
 * @param advertised What a member advertises.
 * @returns Whether every key of `query` matches.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { matchCapabilities } from "./capabilities.ts";
 *
 * const advertised = { models: ["llama3", "phi3"], gpu: true, region: "eu" };
 * assert.equal(matchCapabilities({ models: ["phi3"], gpu: true }, advertised), true);
 * assert.equal(matchCapabilities({ models: "llama3" }, advertised), true);
 * assert.equal(matchCapabilities({ models: ["mistral"] }, advertised), false);
 * assert.equal(matchCapabilities({ region: "us" }, advertised), false);
 * assert.equal(matchCapabilities({}, advertised), true);
 * ```
 */
export function matchCapabilities(query: Capabilities, advertised: Capabilities): boolean {
  return Object.entries(query).every(([key, wanted]) =>
    Object.hasOwn(advertised, key) && matchValue(wanted, advertised[key])
  );
}

function matchValue(wanted: unknown, actual: unknown): boolean {
  if (Array.isArray(wanted)) {
    return Array.isArray(actual) &&
      wanted.every((item) => actual.some((have) => isDeepStrictEqual(item, have)));
  }
  if (isPlainObject(wanted)) {
    return isPlainObject(actual) && matchCapabilities(wanted, actual);
  }
  if (Array.isArray(actual)) return actual.some((have) => isDeepStrictEqual(wanted, have));
  return isDeepStrictEqual(wanted, actual);
}

function isPlainObject(value: unknown): value is Capabilities {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}
