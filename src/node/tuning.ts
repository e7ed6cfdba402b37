/**
 * The data-path choices of a node, each with the stock libp2p behaviour still selectable, so
 * that a bench can compare them (`P2P_TUNING=tcp:node,yamux:stock,noise:stock` in the
 * environment of the `p2p` processes) and an operator can fall back without a rebuild.
 *
 * @module
 */
import { DEFAULT_TCP_TRANSPORT } from "./constants.ts";

/** The data-path choices; the defaults are the fast ones. */
export interface Tuning {
  /** `deno`: Deno-native TCP transport; `node`: `@libp2p/tcp` on node:net. @default {"deno"} */
  tcp: "deno" | "node";
  /** `half`: go-yamux window-update threshold; `stock`: an update per data frame. @default {"half"} */
  yamux: "half" | "stock";
  /**
   * `openssl`: the host's OpenSSL for every size where the process may load it
   * (`openssl_aead.ts`), else as `deno`; `deno`: node:crypto from a few hundred bytes on;
   * `stock`: @libp2p/noise's 1200-byte switch; `node`: node:crypto for every size. (The release
   * bundle takes the WASM cipher's place with a stand-in on node:crypto: `scripts/stand_ins/`.)
   * @default {"openssl"}
   */
  noise: "openssl" | "deno" | "stock" | "node";
  /**
   * `lean`: noise messages framed by `noise_frames.ts` after the handshake; `stock`: through
   * libp2p's length-prefixed decoder, as `@libp2p/noise` does. @default {"lean"}
   */
  framing: "lean" | "stock";
  /**
   * `cached`: peer store merges that change nothing (a stream's protocol, a DHT answer's
   * addresses) are skipped and repeated reads answered from memory (`peer_store_cache.ts`);
   * `stock`: every call reads (and every merge writes) the datastore. @default {"cached"}
   */
  peerStore: "cached" | "stock";
  /**
   * `quiet`: one shared disabled libp2p logger while `DEBUG` is unset; `stock`: libp2p's
   * logger, a few debug instances per connection and stream. @default {"quiet"}
   */
  logger: "quiet" | "stock";
  /**
   * `fast`: libp2p's event emitters keep their own listener lists (`fast_events.ts`);
   * `stock`: Deno's `EventTarget` dispatches every event. Process-wide once on. @default {"fast"}
   */
  events: "fast" | "stock";
  /**
   * `trim`: a `p2p` process asks V8 for a memory-reducing collection once it has been quiet
   * while its heap grew, then gives glibc's free pages back if it holds many
   * (`src/cli/heap_trim.ts`); `collect`: the collection only; `stock`: V8 collects when it runs
   * out of room. Read by the CLI, not by nodes of the library. @default {"trim"}
   */
  heap: "trim" | "collect" | "stock";
  /**
   * `eager`: a stream whose first frame holds a whole proposal of a handled protocol is
   * answered as it opens (`eager_select.ts`); `stock`: `@libp2p/multistream-select` reads every
   * inbound stream's proposal. @default {"eager"}
   */
  select: "eager" | "stock";
  /**
   * `reused`: full noise messages are sealed into buffers the TCP writer gives back once
   * written (`buffer_pool.ts`); `stock`: a new buffer per message. @default {"reused"}
   */
  buffers: "reused" | "stock";
  /**
   * `reused`: a tunnel's full-size read slabs come back once the cipher sealed every byte of
   * them (`send_slabs.ts`); `stock`: a new slab each time. @default {"reused"}
   */
  slabs: "reused" | "stock";
  /**
   * `aligned`: a streaming connection's reads end where a full noise message would, so that
   * messages arrive whole (`deno_tcp_connection.ts`); `stock`: reads take all the slab offers.
   * @default {"aligned"}
   */
  reads: "aligned" | "stock";
}

/**
 * The fast choices.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_TUNING } from "./tuning.ts";
 *
 * assert.equal(DEFAULT_TUNING.tcp, "deno");
 * assert.equal(DEFAULT_TUNING.yamux, "half");
 * ```
 */
export const DEFAULT_TUNING: Tuning = {
  tcp: DEFAULT_TCP_TRANSPORT,
  yamux: "half",
  noise: "openssl",
  framing: "lean",
  peerStore: "cached",
  logger: "quiet",
  events: "fast",
  heap: "trim",
  select: "eager",
  buffers: "reused",
  slabs: "reused",
  reads: "aligned",
};

const CHOICES: { [K in keyof Tuning]: readonly Tuning[K][] } = {
  tcp: ["deno", "node"],
  yamux: ["half", "stock"],
  noise: ["openssl", "deno", "stock", "node"],
  framing: ["lean", "stock"],
  peerStore: ["cached", "stock"],
  logger: ["quiet", "stock"],
  events: ["fast", "stock"],
  heap: ["trim", "collect", "stock"],
  select: ["eager", "stock"],
  buffers: ["reused", "stock"],
  slabs: ["reused", "stock"],
  reads: ["aligned", "stock"],
};

/**
 * Parses `key:value` pairs separated by commas; unknown keys or values are ignored.
 *
 * @param spec For example `tcp:node,noise:stock`.
 * @returns The defaults with the given choices applied.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTuning } from "./tuning.ts";
 * assert.equal(parseTuning("tcp:node,noise:stock").tcp, "node");
 * assert.equal(parseTuning("tcp:node,noise:stock").yamux, "half");
 * ```
 */
export function parseTuning(spec: string | undefined): Tuning {
  const tuning: Tuning = { ...DEFAULT_TUNING };
  for (const part of (spec ?? "").split(",")) {
    const [key, value] = part.split(":").map((s) => s.trim());
    if (key === undefined || value === undefined || !(key in CHOICES)) continue;
    const k = key as keyof Tuning;
    if ((CHOICES[k] as readonly string[]).includes(value)) {
      (tuning as unknown as Record<string, string>)[k] = value;
    }
  }
  return tuning;
}

/**
 * The tuning named by `P2P_TUNING`, or the defaults (also without env permission).
 *
 * @returns The data-path choices for new nodes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { tuningFromEnv } from "./tuning.ts";
 *
 * assert.ok(["deno", "node"].includes(tuningFromEnv().tcp));
 * ```
 */
export function tuningFromEnv(): Tuning {
  try {
    return parseTuning(Deno.env.get("P2P_TUNING"));
  } catch {
    return { ...DEFAULT_TUNING };
  }
}
