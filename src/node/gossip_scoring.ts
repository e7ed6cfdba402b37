import type { GossipSub, GossipsubOpts } from "@libp2p/gossipsub";
import { STRANGER_GOSSIP_SCORE } from "./constants.ts";

/**
 * Gossipsub scoring that sends nothing to strangers: a peer that has not proved it holds the
 * token scores {@linkcode STRANGER_GOSSIP_SCORE}, below the publish and gossip thresholds
 * (no messages, no IHAVE, no mesh) and above the graylist one (its own messages are still
 * read, which is how a LocalAI node proves it is a member). Outsiders connected to a node
 * thus never receive the sealed ledger they could replay. Many members share one IP (one
 * host, one NAT): the colocation penalty is off, as edgevpn scores no peer by default.
 *
 * @param isMember Whether a peer (by ID) has proved membership; read at each score.
 * @returns The gossipsub options to merge.
 */
export function gossipScoring(
  isMember: (peer: string) => boolean,
): Pick<GossipsubOpts, "scoreParams" | "scoreThresholds"> {
  return {
    scoreParams: {
      IPColocationFactorWeight: 0,
      appSpecificWeight: 1,
      appSpecificScore: (peer) => isMember(peer) ? 0 : STRANGER_GOSSIP_SCORE,
    },
    scoreThresholds: {
      gossipThreshold: -10,
      publishThreshold: -50,
      graylistThreshold: -80,
    },
  };
}

/**
 * Drops gossipsub's cached score of `peer` (kept up to a heartbeat), so that a peer that has
 * just proved membership is sent messages at once.
 *
 * @param pubsub The node's gossipsub service.
 * @param peer The peer's ID.
 */
export function rescore(pubsub: GossipSub, peer: string): void {
  (pubsub as unknown as { score?: { scoreCache?: Map<string, unknown> } }).score?.scoreCache
    ?.delete(peer);
}
