import type { GossipSub } from "@libp2p/gossipsub";
import type { Connection, PeerId } from "@libp2p/interface";
import { getLogger } from "@logtape/logtape";
import { backoffDelay } from "./backoff.ts";
import {
  GOSSIP_WRITER_BACKOFF_BASE_MS,
  GOSSIP_WRITER_BACKOFF_MAX_MS,
  GOSSIP_WRITER_REOPENS,
  GOSSIP_WRITER_STABLE_MS,
} from "./constants.ts";

const log = getLogger(["p2p", "node", "gossip"]);

/** The parts of gossipsub's router this module follows (instance fields, not its API). */
interface GossipRouter {
  peers: Map<string, PeerId>;
  streamsOutbound: Map<string, { close(): Promise<void> }>;
  streamsInbound: Map<string, unknown>;
  outboundInflightQueue: { push(item: { peerId: PeerId; connection: Connection }): void };
  pipePeerReadStream(peerId: PeerId, source: unknown): Promise<void>;
  isStarted(): boolean;
  stop(): Promise<void>;
}

/** Options of {@linkcode keepGossipWriters}. */
export interface GossipWritersInit {
  /** The node's open connections to a peer. */
  connections(peer: PeerId): Connection[];
  /** The clock, in milliseconds. @default {performance.now} */
  now?: () => number;
  /** Uniform randomness in [0, 1) for the backoff's jitter. @default {Math.random} */
  random?: () => number;
  /** Runs `run` after `delayMs`; returns its cancel. @default {setTimeout} */
  schedule?: (run: () => void, delayMs: number) => () => void;
}

function scheduleTimer(run: () => void, delayMs: number): () => void {
  const timer = setTimeout(run, delayMs);
  return () => clearTimeout(timer);
}

interface Writer {
  openedAt: number;
  reopens: number;
  /** Cancels the pending reopen. */
  cancel?: (() => void) | undefined;
  /** A replaced writer, closed once its successor is open (or none will be). */
  stale?: { close(): Promise<void> } | undefined;
}

/**
 * Keeps a gossipsub writer (the outbound stream) to every connected peer, as go-libp2p-pubsub
 * does and js gossipsub does not: js opens it when a connection or the peer's first stream
 * arrives, and never again while the connection lasts. Two things leave a connected peer
 * without one:
 *
 * - The writer is closed or reset while the connection stays open. It is reopened at once,
 *   then with backoff if the new ones die young (`GOSSIP_WRITER_REOPENS` in a row at most).
 * - The peer closes its own writer to this node and keeps the connection. That is what an
 *   edgevpn peer does at every key rotation: it replaces its whole gossipsub instance, whose
 *   new writer arrives a moment later, and the old instance drops whatever still reaches it.
 *   This node's writer then feeds a dead instance: the next message sent on it is lost (and
 *   the stream reset), and until then every publish "reaches" the peer and goes nowhere. So
 *   the writer is replaced too, a new stream first.
 *
 * A peer that replaces its writer by opening a new one before closing the old (js gossipsub,
 * and this module) leaves no reader without a successor, so two p2p nodes never answer each
 * other's replacements.
 *
 * @param pubsub The node's gossipsub service (patched in place, before it starts).
 * @param init Where the peer's connections are found.
 */
export function keepGossipWriters(pubsub: GossipSub, init: GossipWritersInit): void {
  const router = pubsub as unknown as GossipRouter;
  const now = init.now ?? (() => performance.now());
  const random = init.random ?? Math.random;
  const schedule = init.schedule ?? scheduleTimer;
  const writers = new Map<string, Writer>();

  const connected = (id: string): { peerId: PeerId; connection: Connection } | undefined => {
    const peerId = router.peers.get(id);
    if (peerId === undefined || !router.isStarted()) return undefined;
    const open = init.connections(peerId).filter((c) => c.status === "open");
    const connection = open.find((c) => c.limits === undefined) ?? open[0];
    return connection === undefined ? undefined : { peerId, connection };
  };

  const reopenLater = (id: string, writer: Writer): void => {
    if (writer.cancel !== undefined || connected(id) === undefined) return;
    if (now() - writer.openedAt >= GOSSIP_WRITER_STABLE_MS) writer.reopens = 0;
    if (writer.reopens >= GOSSIP_WRITER_REOPENS) {
      log.debug("Gossip writer to {peer} keeps closing: left closed", { peer: id });
      closeStale(writer);
      return;
    }
    const delayMs = writer.reopens === 0 ? 0 : backoffDelay(writer.reopens - 1, {
      baseMs: GOSSIP_WRITER_BACKOFF_BASE_MS,
      maxMs: GOSSIP_WRITER_BACKOFF_MAX_MS,
      random,
    });
    writer.reopens++;
    writer.cancel = schedule(() => {
      writer.cancel = undefined;
      const target = connected(id);
      // gossipsub's own queue opens it (one at a time), unless one appeared meanwhile.
      if (target !== undefined) router.outboundInflightQueue.push(target);
    }, delayMs);
  };

  const closeStale = (writer: Writer): void => {
    writer.stale?.close().catch(() => {}); // the stream may already be gone
    writer.stale = undefined;
  };

  const outbound = router.streamsOutbound;
  const set = outbound.set.bind(outbound);
  outbound.set = (id, stream) => {
    const result = set(id, stream);
    const writer = writers.get(id);
    if (writer === undefined) writers.set(id, { openedAt: now(), reopens: 0 });
    else {
      writer.openedAt = now();
      closeStale(writer);
    }
    return result;
  };
  const remove = outbound.delete.bind(outbound);
  outbound.delete = (id) => {
    const removed = remove(id);
    const writer = writers.get(id);
    // A peer still known needs a writer (one that leaves the router was forgotten first).
    if (writer !== undefined) reopenLater(id, writer);
    return removed;
  };

  const forget = (id: string): void => {
    const writer = writers.get(id);
    if (writer === undefined) return;
    writer.cancel?.();
    closeStale(writer);
    writers.delete(id);
  };

  const pipe = router.pipePeerReadStream.bind(router);
  router.pipePeerReadStream = async (peerId, source) => {
    const id = peerId.toString();
    const reader = router.streamsInbound.get(id);
    try {
      await pipe(peerId, source);
    } finally {
      // The peer's writer ended and no newer one replaced it: its gossipsub instance is gone.
      if (reader !== undefined && router.streamsInbound.get(id) === reader) replaceWriter(id);
    }
  };

  const replaceWriter = (id: string): void => {
    if (connected(id) === undefined) return;
    log.debug("Peer {peer} closed its gossip writer: replacing this node's", { peer: id });
    const writer = writers.get(id) ?? { openedAt: now(), reopens: 0 };
    writers.set(id, writer);
    const stale = outbound.get(id);
    if (stale === undefined) return reopenLater(id, writer);
    // The new writer opens first: a p2p peer sees it replace the old one, not a bare end.
    closeStale(writer);
    writer.stale = stale;
    outbound.delete(id); // schedules the new writer
  };

  // A peer that leaves the router (gossipsub's removePeer) is forgotten, whatever its state.
  const peers = router.peers;
  const removePeer = peers.delete.bind(peers);
  peers.delete = (id) => {
    forget(id);
    return removePeer(id);
  };

  const stop = router.stop.bind(router);
  router.stop = async () => {
    for (const id of [...writers.keys()]) forget(id);
    await stop();
  };
}
