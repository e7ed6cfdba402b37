import type { NodeOptions, P2PLibp2p } from "../node/create_node.ts";
import type { NetworkToken } from "../token/token.ts";

/**
 * How to start a {@linkcode Network}: the token, the node's options (listen addresses,
 * bootstrap peers, DHT, mDNS, private mode, identity, limits) and the ledger's timings. The
 * CLI builds one from its flags; a program writes one. The one options type of p2p: the
 * messaging node's options extend it.
 */
export interface NetworkOptions extends Omit<NodeOptions, "token"> {
  /** The network token: its text (as `p2p token` prints it) or a decoded token. */
  token: string | NetworkToken;
  /**
   * A file holding the node's key: created once (mode 0600), then reused, so the peer ID
   * survives restarts. Without it (and without `privateKey`), a fresh key per start.
   */
  identity?: string | undefined;
  /** Prefixes pool buckets (`<id>_federated`), as LocalAI's `--p2p-network-id`. */
  networkId?: string | undefined;
  /** Upper bound between full-block rebroadcasts. @default {10000} */
  syncIntervalMs?: number;
  /** Write the `healthcheck` heartbeat. @default {true} */
  healthcheck?: boolean;
  /**
   * Warn when, this long after start, peers are connected but none proved it holds the
   * token (usually: the peers hold another token). `0` turns the check off. @default {15000}
   */
  lonelyAfterMs?: number;
  /**
   * Collect libp2p's own `libp2p_*` metrics for the API's `/metrics` (libp2p takes its
   * registry when the node is made, so it is chosen here). @default {false}
   */
  metrics?: boolean;
  /**
   * Called with the node before it starts: register protocol handlers here.
   * @ignore
   */
  beforeStart?: (node: P2PLibp2p) => void | Promise<void>;
}
