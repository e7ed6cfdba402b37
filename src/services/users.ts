import type { Network } from "../ledger/network.ts";
import { goTimeString } from "../ledger/block.ts";
import { USERS_BUCKET } from "./constants.ts";
import type { UserRecord } from "./records.ts";

/**
 * Announces this node in the `users` bucket, which serving nodes check before they accept
 * a service stream (edgevpn `nodeAnnounce`). The entry is kept announced until `forget`.
 */
export async function announceUser(network: Network): Promise<void> {
  const peerId = network.peerId.toString();
  if (network.ledger.has(USERS_BUCKET, peerId)) return;
  const record: UserRecord = { PeerID: peerId, Timestamp: goTimeString(new Date(network.now())) };
  await network.ledger.put(USERS_BUCKET, peerId, record);
}
