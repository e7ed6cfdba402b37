import type { NetworkOptions } from "../network/options.ts";
import type { RateLimit } from "./token_bucket.ts";
import type { Gate } from "./trust.ts";

/** The limits and trust controls of messaging (see `Messaging`). */
export interface MessagingOptions {
  /** Largest message frame sent or accepted, in bytes. @default {1048576} */
  maxMessageBytes?: number;
  /** Largest age (or clock skew) of an accepted message, in milliseconds. @default {30000} */
  maxMessageAgeMs?: number;
  /** Nonces remembered at most against replays. @default {100000} */
  replayCacheSize?: number;
  /** Rate limits on incoming messages; `false` turns one off. */
  rateLimit?: {
    /** Per sending peer. @default {{ burst: 100, perSecond: 50 }} */
    perPeer?: RateLimit | false;
    /** All peers together. @default {{ burst: 1000, perSecond: 500 }} */
    global?: RateLimit | false;
  };
  /** Bound on one request or send attempt, in milliseconds. @default {10000} */
  requestTimeoutMs?: number;
  /** Retries of a request or send after a transient failure. @default {2} */
  retries?: number;
  /** Redial lost bootstrap and recently useful peers, with backoff. @default {true} */
  reconnect?: boolean;
  /** Consulted before any connection is accepted or opened: `true` admits the peer. */
  gate?: Gate;
  /** Peers denied from the start. */
  deny?: readonly string[];
  /** Bootstrap peers redialled when lost (a node's `bootstrapPeers`). */
  bootstrapPeers?: readonly string[] | undefined;
}

/** Options of `createNode`: the network's (one options type for every p2p node) and messaging's. */
export interface P2PNodeOptions extends NetworkOptions, MessagingOptions {
  /**
   * Bootstrap multiaddrs (with `/p2p/<id>`). `undefined`: the public IPFS list, as LocalAI;
   * `[]`: none (a seed node). Bootstrap peers are redialled when lost.
   */
  bootstrapPeers?: readonly string[] | undefined;
}
