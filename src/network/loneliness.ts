import { getLogger } from "@logtape/logtape";
import { LONELY_AFTER_MS } from "./constants.ts";
import type { Network } from "./network.ts";

const log = getLogger(["p2p", "node"]);

/**
 * Says so when a node is connected to peers but none of them holds its token: the commonest
 * mistake (a token from another network, a typo, a LocalAI token for another cluster) would
 * otherwise look like a working node that shares nothing.
 *
 * @param network The running network.
 * @param afterMs When to look. @default {15000}
 * @returns A function that cancels the check.
 */
export function watchLoneliness(network: Network, afterMs = LONELY_AFTER_MS): () => void {
  const timer = setTimeout(() => {
    const peers = network.node.getPeers().map(String);
    if (peers.length === 0 || peers.some((p) => network.membership.isMember(p))) return;
    const refused = peers.filter((p) => network.membership.failedProof(p)).length;
    const message = `Connected to {peers} peers, but no member of this network answered within ` +
      `{seconds} s{detail}: check that every node uses the same token (fingerprint {token}; ` +
      "`p2p token inspect` shows what a token derives)";
    log.warning(message, {
      peers: peers.length,
      seconds: afterMs / 1000,
      detail: refused > 0 ? ` (${refused} of them hold another token)` : "",
      token: network.tokenFingerprint,
    });
  }, afterMs);
  Deno.unrefTimer(timer);
  return () => clearTimeout(timer);
}
