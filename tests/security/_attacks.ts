// What a hostile member can put on the wire: blocks it crafts by hand, sealed with the
// network's key and published under its own gossip signature, bypassing its own ledger.
import { gzipSync } from "node:zlib";
import { type Block, blockChecksum, goTimeString } from "../../src/ledger/block.ts";
import type { Network } from "../../src/network/network.ts";
import { sealKeyAt, topicAt } from "../../src/token/derive.ts";
import { seal } from "../../src/token/seal.ts";

const encoder = new TextEncoder();

/** Seals `blockJson` (any text) as edgevpn does and publishes it on the ledger topic. */
export async function publishRawBlock(network: Network, blockJson: string): Promise<void> {
  await publishCompressed(network, gzipSync(encoder.encode(blockJson)));
}

/** Seals already gzipped bytes (a bomb, say) and publishes them on the ledger topic. */
export async function publishCompressed(network: Network, gzipped: Uint8Array): Promise<void> {
  const atS = network.now() / 1000;
  const message = seal(sealKeyAt(network.token, atS), gzipped);
  const payload = encoder.encode(
    JSON.stringify({ Message: message, SenderID: "", Annotations: null }),
  );
  await network.node.services.pubsub.publish(topicAt(network.token, atS), payload);
}

/**
 * A block with the network's current content plus `extra`, at index `index`, with a hash
 * that matches (what a careful attacker sends), unless `hash` is given.
 */
export function craftBlock(
  network: Network,
  index: number,
  extra: Record<string, Record<string, string>> = {},
  hash?: string,
): Block {
  const current = network.ledger.block;
  const unsealed = {
    Index: index,
    Timestamp: goTimeString(new Date(network.now())),
    Storage: { ...current.Storage, ...extra },
    PrevHash: current.Hash,
  };
  return { ...unsealed, Hash: hash ?? blockChecksum(unsealed) };
}
