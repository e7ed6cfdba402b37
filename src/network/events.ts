/** The typed events of a {@linkcode Network}. */
export interface NetworkEvents {
  /** A discovery mechanism (mDNS, the DHT rendezvous) found a peer. */
  "peer:discovered": CustomEvent<{ peerId: string; addresses: string[] }>;
  /** The first connection to a peer opened. */
  "peer:connected": CustomEvent<{ peerId: string }>;
  /** The last connection to a peer closed. */
  "peer:disconnected": CustomEvent<{ peerId: string }>;
  /** A peer proved it holds the token: it is routed to and served from now on. */
  "member:proven": CustomEvent<{ peerId: string; by: "challenge" | "gossip" }>;
  /** A worker of a pool this node follows can take connections. */
  "worker:online": CustomEvent<{ pool: string; worker: string; peerId: string }>;
  /** A worker of a pool this node follows cannot take connections any more. */
  "worker:offline": CustomEvent<{ pool: string; worker: string; reason: string }>;
  /** The ledger changed: a local write, or a block adopted from a peer. */
  "ledger:changed": CustomEvent<{ index: number; local: boolean }>;
  /** Something failed in the background (a component, a write-back); also logged. */
  error: CustomEvent<{ source: string; error: Error }>;
}
