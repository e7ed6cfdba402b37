import type { Block } from "./block.ts";
import type { GossipRejection } from "./envelope.ts";

/** What the ledger needs from its gossip channel ({@linkcode LedgerHub} in a node). */
export interface BlockChannel {
  /** Throws if the block cannot be sent (too large); called before a write is committed. */
  encode(block: Block): unknown;
  /** Sends the block to the network; resolves with the number of recipients. */
  publish(block: Block): Promise<number>;
  /**
   * Registers the receiver of the blocks peers send, with the sender's peer ID and whether
   * the block was sent to this node alone (`sendTo`) rather than to the network.
   */
  onBlock(handler: (block: Block, from: string, direct: boolean) => void): void;
  /** Registers the receiver of the reasons incoming messages were dropped. */
  onReject(handler: (reason: GossipRejection, from: string) => void): void;
  /**
   * Registers what to do when a peer joins the topic, or joins this node's gossip mesh
   * (`grafted`) right after a new block passed: the ledger rebroadcasts its block for it.
   */
  onPeerJoin(handler: (peer: string, grafted: boolean) => void): void;
  /** The peers that hear this channel now. */
  peerCount(): number;
  /**
   * Sends the block to each of `peers` alone, where the channel can; resolves with the peers
   * it did not reach, for which the block is published instead. Without it, it is published.
   */
  sendTo?(block: Block, peers: readonly string[]): Promise<string[]>;
}
