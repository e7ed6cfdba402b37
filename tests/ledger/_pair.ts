// Two in-memory ledgers wired by fake channels that deliver only when a test flushes them.
import type { Block } from "../../src/ledger/block.ts";
import type { GossipRejection } from "../../src/ledger/envelope.ts";
import { LedgerWriteError } from "../../src/ledger/errors.ts";
import type { BlockChannel } from "../../src/ledger/block_channel.ts";
import { Ledger } from "../../src/ledger/ledger.ts";

export const T0 = Date.parse("2026-08-22T10:00:00Z");

/** A clock that stands still: nothing in these tests depends on time passing. */
export function fixedClock(at: number): () => number {
  return () => at;
}

/** Blocks in flight between fake channels, delivered only when the test says so. */
export class Wire {
  readonly pending: { to: FakeChannel; block: Block; from: string; direct?: boolean }[] = [];

  /** Delivers in order until nothing is in flight; fails if it never settles. */
  flush(maxDeliveries = 50): number {
    let count = 0;
    while (this.pending.length > 0) {
      const { to, block, from, direct } = this.pending.shift()!;
      if (++count > maxDeliveries) {
        throw new Error(`the ledgers did not settle after ${maxDeliveries} deliveries`);
      }
      to.deliver(block, from, direct);
    }
    return count;
  }
}

/** An in-memory {@linkcode BlockChannel}: what one ledger publishes, its peers receive. */
export class FakeChannel implements BlockChannel {
  readonly peers: FakeChannel[] = [];
  readonly sent: Block[] = [];
  #blockHandlers: ((block: Block, from: string, direct: boolean) => void)[] = [];
  #rejectHandlers: ((reason: GossipRejection, from: string) => void)[] = [];
  #joinHandlers: ((peer: string, grafted: boolean) => void)[] = [];

  constructor(
    readonly name: string,
    readonly wire: Wire,
    readonly maxBlockBytes = 64 * 1024,
  ) {}

  encode(block: Block): number {
    const size = JSON.stringify(block).length;
    if (size > this.maxBlockBytes) {
      throw new LedgerWriteError(`Cannot write to the ledger: block of ${size} bytes is too large`);
    }
    return size;
  }

  publish(block: Block): Promise<number> {
    this.encode(block);
    this.sent.push(block);
    for (const peer of this.peers) {
      this.wire.pending.push({ to: peer, block: structuredClone(block), from: this.name });
    }
    return Promise.resolve(this.peers.length);
  }

  onBlock(handler: (block: Block, from: string, direct: boolean) => void): void {
    this.#blockHandlers.push(handler);
  }

  onReject(handler: (reason: GossipRejection, from: string) => void): void {
    this.#rejectHandlers.push(handler);
  }

  onPeerJoin(handler: (peer: string, grafted: boolean) => void): void {
    this.#joinHandlers.push(handler);
  }

  peerCount(): number {
    return this.peers.length;
  }

  /** Names of the peers `sendTo` reaches (a channel without any has no `sendTo`). */
  readonly reachable = new Set<string>();
  /** The blocks sent to single peers, by peer. */
  readonly sentTo: { peer: string; block: Block }[] = [];

  /** Sends to the reachable peers alone, as a hub with block delivery; returns the others. */
  sendTo?: (block: Block, peers: readonly string[]) => Promise<string[]> = (block, peers) => {
    if (this.reachable.size === 0) return Promise.resolve([...peers]);
    const unreached: string[] = [];
    for (const peer of peers) {
      const to = this.peers.find((p) => p.name === peer);
      if (to === undefined || !this.reachable.has(peer)) {
        unreached.push(peer);
        continue;
      }
      this.sentTo.push({ peer, block });
      this.wire.pending.push({ to, block: structuredClone(block), from: this.name, direct: true });
    }
    return Promise.resolve(unreached);
  };

  deliver(block: Block, from: string, direct = false): void {
    for (const handler of this.#blockHandlers) handler(block, from, direct);
  }

  reject(reason: GossipRejection, from: string): void {
    for (const handler of this.#rejectHandlers) handler(reason, from);
  }

  peerJoined(peer: string, grafted = false): void {
    for (const handler of this.#joinHandlers) handler(peer, grafted);
  }
}

export interface Pair {
  wire: Wire;
  a: Ledger;
  b: Ledger;
  channelA: FakeChannel;
  channelB: FakeChannel;
  stop(): void;
}

/** Two ledgers wired to each other, each with its own clock. */
export function pair(
  options: { maxBlockBytes?: number; reannounceIntervalMs?: number } = {},
): Pair {
  const wire = new Wire();
  const channelA = new FakeChannel("A", wire, options.maxBlockBytes);
  const channelB = new FakeChannel("B", wire, options.maxBlockBytes);
  channelA.peers.push(channelB);
  channelB.peers.push(channelA);

  const extra = options.reannounceIntervalMs === undefined
    ? {}
    : { reannounceIntervalMs: options.reannounceIntervalMs };
  const a = new Ledger({ channel: channelA, now: fixedClock(T0), ...extra });
  const b = new Ledger({ channel: channelB, now: fixedClock(T0 + 7), ...extra });
  return {
    wire,
    a,
    b,
    channelA,
    channelB,
    stop() {
      a.stop();
      b.stop();
    },
  };
}
