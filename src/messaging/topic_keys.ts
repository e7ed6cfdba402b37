/**
 * Names and seal keys of topics, derived from the network token. Pure: no IO.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import type { NetworkToken } from "../token/token.ts";
import { TOPIC_KEY_LABEL, TOPIC_NAME_LABEL } from "./constants.ts";

const SEAL_KEY_LENGTH = 32;

function derive(token: NetworkToken, label: string, topic: string): Buffer {
  // The token's two gossip secrets key the HMAC: only members can compute it.
  return createHmac("sha256", `${token.room}\n${token.otp.crypto.key}`)
    .update(`${label}\n${topic}`, "utf8")
    .digest();
}

/**
 * The gossipsub topic a topic name travels on: `p2p-topic-` and the hex HMAC-SHA256 of the
 * name keyed with the token's secrets. Outsiders cannot compute it, so they can neither find
 * nor subscribe to the topic on purpose.
 *
 * @param token The network token.
 * @param topic The application's topic name.
 * @returns The gossip topic.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { topicName } from "@p2p/p2p/messaging";
 * import { generateTokenConfig } from "@p2p/p2p/token";
 *
 * const token = generateTokenConfig();
 * assert.match(topicName(token, "news"), /^p2p-topic-[0-9a-f]{64}$/);
 * assert.notEqual(topicName(token, "news"), topicName(generateTokenConfig(), "news"));
 * ```
 */
export function topicName(token: NetworkToken, topic: string): string {
  return `p2p-topic-${derive(token, TOPIC_NAME_LABEL, topic).toString("hex")}`;
}

/**
 * The key that seals a topic's messages (for `seal`/`unseal` of the token module): 32
 * base64url characters (192 bits) of an HMAC-SHA256 keyed with the token's secrets, distinct
 * per topic.
 *
 * @param token The network token.
 * @param topic The application's topic name.
 * @returns The seal key. This is a secret: never log it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { topicSealKey } from "@p2p/p2p/messaging";
 * import { generateTokenConfig, seal, unseal } from "@p2p/p2p/token";
 *
 * const key = topicSealKey(generateTokenConfig(), "news");
 * assert.equal(key.length, 32);
 * const sealed = seal(key, new Uint8Array([1, 2]));
 * assert.deepEqual(unseal(key, sealed), new Uint8Array([1, 2]));
 * ```
 */
export function topicSealKey(token: NetworkToken, topic: string): string {
  return derive(token, TOPIC_KEY_LABEL, topic).toString("base64url").slice(0, SEAL_KEY_LENGTH);
}
