/**
 * The ledger block sent to one peer, for the peers that joined: a gossip rebroadcast reaches
 * every node of the network, each of which unseals, inflates and checks it, while only the
 * newcomer lacked it (see `join_sync.ts`). With 3,000 keys in the ledger, a join into ten
 * nodes cost them 2.2 s of CPU in all that way, 0.9 s this way.
 *
 * The payload is the gossip message's (the sealed edgevpn envelope), so the receiver checks
 * it exactly as a gossiped one. Only p2p peers speak the protocol: LocalAI/edgevpn peers, and
 * p2p peers older than it, get the gossip rebroadcast as before. A stream is answered only for
 * a peer that proved membership, and the payloads being read hold at most the gossip limit in
 * all: a delivery that does not fit is refused, and its sender gossips the block instead.
 *
 * @module
 */
import type { Connection, Libp2p, PeerId, Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { byteStream } from "@libp2p/utils";
import { getLogger } from "@logtape/logtape";
import { ByteBudget } from "../node/byte_budget.ts";
import {
  BLOCK_DELIVERY_MAX_STREAMS,
  BLOCK_DELIVERY_PROTOCOL,
  BLOCK_DELIVERY_TIMEOUT_MS,
} from "./constants.ts";

const log = getLogger(["p2p", "ledger", "delivery"]);

/** The length prefix of a delivered payload: 4 bytes, big-endian. */
const PREFIX_BYTES = 4;
/** The receiver's answer, one byte: the block was valid and handed to the ledger. */
const TAKEN = 1;

/** Options of a {@linkcode BlockDelivery}. */
export interface BlockDeliveryInit {
  /** Whether `peer` proved it holds the token: only members are answered. */
  isMember(peer: string): boolean;
  /** Largest payload accepted, in bytes, and the most held by all deliveries being read. */
  maxInboundBytes: number;
}

/** What a {@linkcode BlockDelivery} uses of the libp2p node. */
export type BlockDeliveryComponents = Pick<
  Libp2p,
  "handle" | "unhandle" | "getConnections" | "peerStore"
>;

/** Receives a payload a member delivered; returns false when it is not a valid block. */
export type PayloadHandler = (payload: Uint8Array, from: string) => boolean;

/**
 * Sends sealed blocks to single peers and receives theirs.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockDelivery } from "./block_delivery.ts";
 * import { createLibp2pNode } from "../node/create_node.ts";
 * import { generateTokenConfig } from "../token/token.ts";
 *
 * const token = generateTokenConfig();
 * const options = { token, listen: ["/ip4/127.0.0.1/tcp/0"], bootstrapPeers: [], mdns: false };
 * const a = await createLibp2pNode(options);
 * const b = await createLibp2pNode(options);
 * const init = { isMember: () => true, maxInboundBytes: 1024 };
 * const sender = blockDelivery(init)(a);
 * const receiver = blockDelivery(init)(b);
 * const received = new Promise<string>((resolve) =>
 *   receiver.onPayload((payload) => {
 *     resolve(new TextDecoder().decode(payload));
 *     return true;
 *   })
 * );
 * await sender.start();
 * await receiver.start();
 * await a.start();
 * await b.start();
 * try {
 *   const identified = new Promise((resolve) => a.addEventListener("peer:identify", resolve));
 *   await a.dial(b.getMultiaddrs()[0]!);
 *   await identified; // a learns that b speaks the protocol
 *   assert.equal(await sender.send(b.peerId.toString(), new TextEncoder().encode("a block")), true);
 *   assert.equal(await received, "a block");
 * } finally {
 *   await a.stop();
 *   await b.stop();
 * }
 * ```
 */
export class BlockDelivery {
  #init: BlockDeliveryInit;
  #components: BlockDeliveryComponents;
  #handlers: PayloadHandler[] = [];
  #started = false;
  #budget: ByteBudget;

  /**
   * @param components The libp2p node.
   * @param init Who is answered, and the size limit.
   */
  constructor(components: BlockDeliveryComponents, init: BlockDeliveryInit) {
    this.#components = components;
    this.#init = init;
    this.#budget = new ByteBudget(init.maxInboundBytes);
  }

  /** Registers the protocol. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#components.handle(BLOCK_DELIVERY_PROTOCOL, this.#receive, {
      maxInboundStreams: BLOCK_DELIVERY_MAX_STREAMS,
      maxOutboundStreams: BLOCK_DELIVERY_MAX_STREAMS,
      runOnLimitedConnection: true,
    });
  }

  /** Unregisters the protocol. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    await this.#components.unhandle(BLOCK_DELIVERY_PROTOCOL);
  }

  /** Calls `handler` with every payload a member delivers. */
  onPayload(handler: PayloadHandler): void {
    this.#handlers.push(handler);
  }

  /**
   * Sends `payload` to `peer` over an open connection.
   *
   * @returns Whether the peer took it: false when no connection is open, the peer does not
   * speak the protocol or refused it, or the stream failed (the caller then gossips the block).
   */
  async send(peer: string, payload: Uint8Array): Promise<boolean> {
    if (!this.#started) return false;
    let id: PeerId;
    try {
      id = peerIdFromString(peer);
    } catch {
      return false;
    }
    const connection = this.#components.getConnections(id).find((c) => c.status === "open");
    if (connection === undefined || !(await this.#speaksDelivery(id))) return false;
    const signal = AbortSignal.timeout(BLOCK_DELIVERY_TIMEOUT_MS);
    let stream: Stream | undefined;
    try {
      stream = await connection.newStream(BLOCK_DELIVERY_PROTOCOL, {
        signal,
        runOnLimitedConnection: true,
      });
      const framed = new Uint8Array(PREFIX_BYTES + payload.byteLength);
      new DataView(framed.buffer).setUint32(0, payload.byteLength);
      framed.set(payload, PREFIX_BYTES);
      const bytes = byteStream(stream);
      await bytes.write(framed, { signal });
      const answer = (await bytes.read({ bytes: 1, signal })).subarray();
      await stream.close({ signal });
      return answer[0] === TAKEN;
    } catch (err) {
      log.debug("Cannot deliver the ledger block to {peer}: {error}", {
        peer,
        error: String(err),
      });
      stream?.abort(err instanceof Error ? err : new Error(String(err)));
      return false;
    }
  }

  async #speaksDelivery(peer: PeerId): Promise<boolean> {
    try {
      const { protocols } = await this.#components.peerStore.get(peer);
      return protocols.includes(BLOCK_DELIVERY_PROTOCOL);
    } catch {
      return false;
    }
  }

  #receive = async (stream: Stream, connection: Connection): Promise<void> => {
    const from = connection.remotePeer.toString();
    if (!this.#init.isMember(from)) {
      stream.abort(new Error("not a member"));
      return;
    }
    const signal = AbortSignal.timeout(BLOCK_DELIVERY_TIMEOUT_MS);
    let reserved = 0;
    try {
      const bytes = byteStream(stream);
      const prefix = (await bytes.read({ bytes: PREFIX_BYTES, signal })).subarray();
      const size = new DataView(prefix.buffer, prefix.byteOffset, PREFIX_BYTES).getUint32(0);
      if (size === 0 || size > this.#init.maxInboundBytes) {
        throw new RangeError(`a payload of ${size} bytes (limit ${this.#init.maxInboundBytes})`);
      }
      if (!this.#budget.tryReserve(size)) {
        throw new RangeError(`a payload of ${size} bytes while ${this.#budget.used} are read`);
      }
      reserved = size;
      const payload = (await bytes.read({ bytes: size, signal })).subarray();
      const taken = this.#handlers.map((handler) => handler(payload, from)).every(Boolean);
      await bytes.write(Uint8Array.of(taken ? TAKEN : 0), { signal });
      await stream.close({ signal });
    } catch (err) {
      log.debug("Dropped a ledger block delivery from {from}: {error}", {
        from,
        error: String(err),
      });
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.#budget.release(reserved);
    }
  };
}

/**
 * The block delivery of a node.
 *
 * @param init Who is answered, and the size limit.
 * @returns A factory taking the libp2p node.
 */
export function blockDelivery(
  init: BlockDeliveryInit,
): (components: BlockDeliveryComponents) => BlockDelivery {
  return (components) => new BlockDelivery(components, init);
}
