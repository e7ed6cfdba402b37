import type { Network } from "../network/network.ts";
import { goTimeString } from "../ledger/block.ts";
import { USERS_BUCKET } from "./constants.ts";
import type { UserRecord } from "./records.ts";

/**
 * Announces this node in the `users` bucket, which serving nodes check before they accept
 * a service stream (edgevpn `nodeAnnounce`). The entry is kept announced until `forget`.
 *
 * @param network The running network.
 * @returns Once the entry is written (at once if it was there already).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { startNetwork } from "@p2p/p2p";
 * import { announceUser } from "./users.ts";
 * import { USERS_BUCKET } from "../ledger/constants.ts";
 * import { generateTokenConfig } from "../token/token.ts";
 *
 * const network = await startNetwork({
 *   token: generateTokenConfig(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * });
 * try {
 *   await announceUser(network);
 *   const peerId = network.peerId.toString();
 *   assert.equal((network.ledger.get(USERS_BUCKET, peerId) as { PeerID: string }).PeerID, peerId);
 * } finally {
 *   await network.stop();
 * }
 * ```
 */
export async function announceUser(network: Network): Promise<void> {
  const peerId = network.peerId.toString();
  if (network.ledger.has(USERS_BUCKET, peerId)) return;
  const record: UserRecord = await network.sign(USERS_BUCKET, peerId, {
    Timestamp: goTimeString(new Date(network.now())),
  });
  await network.ledger.put(USERS_BUCKET, peerId, record);
}
