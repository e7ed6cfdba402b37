/**
 * When the rendezvous loop does what: whether a cycle provides a CID, looks up providers or
 * leaves the DHT alone, and how long until the next cycle. Pure (no IO, no clock): the loop
 * in `rendezvous.ts` passes its connection count, its addresses and the time.
 *
 * @module
 */
import { backoffDelay } from "./backoff.ts";
import {
  RENDEZVOUS_ALONE_RETRY_MS,
  RENDEZVOUS_MAX_LOOKUP_CYCLES,
  RENDEZVOUS_REPROVIDE_MS,
} from "./constants.ts";

/** What a provide was made with: when, our connections and our addresses then. */
export interface ProvideRecord {
  atMs: number;
  connections: number;
  addresses: string;
}

/** Options of a {@linkcode RendezvousPacing}. */
export interface RendezvousPacingInit {
  /** Upper bound between two cycles, in milliseconds. */
  intervalMs: number;
  /** Whether the node has bootstrap peers to dial (a cycle without them is never "alone"). */
  hasBootstrapPeers: boolean;
}

/**
 * The rendezvous loop's pacing state.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RendezvousPacing } from "./rendezvous_pacing.ts";
 *
 * const pacing = new RendezvousPacing({ intervalMs: 10_000, hasBootstrapPeers: true });
 * // No connection after the bootstrap dials: skip the DHT, try again within a second.
 * assert.equal(pacing.startCycle(0), true);
 * assert.ok(pacing.nextDelayMs(() => 1) <= 1_000);
 * // Connected: provide, look up, and come back after the interval.
 * assert.equal(pacing.startCycle(1), false);
 * assert.equal(pacing.shouldProvide("cid", { atMs: 0, connections: 1, addresses: "a" }), true);
 * pacing.provided("cid", { atMs: 0, connections: 1, addresses: "a" });
 * assert.equal(pacing.shouldProvide("cid", { atMs: 5_000, connections: 2, addresses: "a" }), false);
 * assert.equal(pacing.nextDelayMs(), 10_000);
 * ```
 */
export class RendezvousPacing {
  #init: RendezvousPacingInit;
  /** Our provides per CID still in use. */
  #provided = new Map<string, ProvideRecord>();
  /** Lookups in a row that brought nobody new, cycles since the last one, connections after. */
  #lookups = { quiet: 0, skipped: 0, connections: 0 };
  /** Cycles in a row that ended with no connection at all. */
  #aloneCycles = 0;

  /** @param init The interval and whether there are bootstrap peers. */
  constructor(init: RendezvousPacingInit) {
    this.#init = init;
  }

  /**
   * Called after the bootstrap dials: whether this cycle is alone and skips the DHT. With not
   * one connection, kad-dht holds every query until a peer enters its routing table, so each
   * provide and lookup would wait out its step timeout (8 s, four steps) and the next
   * bootstrap dial behind them (measured: 4 nodes of 20 whose first dials failed joined after
   * 50 s instead of 17). A node without bootstrap peers (the first of a network) lets them
   * wait: its first peer ends the wait.
   *
   * @param connections Our connections now.
   * @returns `true` to skip the DHT steps.
   */
  startCycle(connections: number): boolean {
    const alone = this.#init.hasBootstrapPeers && connections === 0;
    this.#aloneCycles = alone ? this.#aloneCycles + 1 : 0;
    return alone;
  }

  /**
   * A connection opened: whether it ends a spell of cycles without connections (the next
   * cycle should then run soon, to provide and look up with it).
   *
   * @returns `true` when the last cycle was alone.
   */
  connected(): boolean {
    if (this.#aloneCycles === 0) return false;
    this.#aloneCycles = 0;
    return true;
  }

  /**
   * The delay before the next cycle: the interval, or, while cycles end alone, a short
   * backoff, so that a node whose bootstrap peers were not reachable yet (starting together,
   * a restart) tries again within seconds.
   *
   * @param random The jitter source. @default {Math.random}
   * @returns Milliseconds.
   */
  nextDelayMs(random?: () => number): number {
    if (this.#aloneCycles === 0) return this.#init.intervalMs;
    return backoffDelay(this.#aloneCycles - 1, {
      baseMs: RENDEZVOUS_ALONE_RETRY_MS,
      maxMs: this.#init.intervalMs,
      ...(random === undefined ? {} : { random }),
    });
  }

  /**
   * Whether this cycle looks up providers. Newcomers find the members by their own lookups
   * (and dial them), so once lookups bring nobody new a member looks up less often: every
   * 2, 4, then {@linkcode RENDEZVOUS_MAX_LOOKUP_CYCLES} cycles. A lost connection makes the
   * next cycle look up (a peer may have gone, or we may have been cut off).
   *
   * @param connections Our connections now.
   * @returns `true` to look up.
   */
  lookupDue(connections: number): boolean {
    const lookups = this.#lookups;
    if (connections < lookups.connections) return true;
    lookups.skipped++;
    // The project's one backoff, counted in cycles and without jitter (cycles are the unit).
    const every = backoffDelay(lookups.quiet, {
      baseMs: 1,
      maxMs: RENDEZVOUS_MAX_LOOKUP_CYCLES,
      random: () => 1,
    });
    return lookups.skipped >= every;
  }

  /**
   * Back off after a lookup that found nobody new: every provider it found was connected
   * already. One that dialed someone, or found someone it could not dial yet (a record with
   * no reachable address: a peer behind NAT before its reservation), keeps lookups every
   * cycle.
   *
   * @param notConnected Providers found that were not connected (dialed or not).
   * @param connections Our connections after the lookup.
   */
  lookedUp(notConnected: number, connections: number): void {
    const lookups = this.#lookups;
    const quiet = notConnected === 0 && connections >= lookups.connections;
    lookups.quiet = quiet ? lookups.quiet + 1 : 0;
    lookups.skipped = 0;
    lookups.connections = connections;
  }

  /**
   * A provider record lives on the DHT far longer than a rendezvous window, so providing the
   * same CID every cycle (as edgevpn does) only repeats the lookup and the k ADD_PROVIDER
   * messages to the same peers. A CID is provided again when our connections more than
   * doubled since we last did (peers closer to it may have joined without the record: a
   * node that started alone provides again as the network forms, a few times, not every
   * cycle), when our addresses changed (the record carries them), or after
   * {@linkcode RENDEZVOUS_REPROVIDE_MS}.
   *
   * @param cid The CID, as a string.
   * @param now Our connections, addresses and the time now.
   * @returns `true` to provide.
   */
  shouldProvide(cid: string, now: ProvideRecord): boolean {
    const last = this.#provided.get(cid);
    if (last === undefined) return true;
    return now.connections > 2 * last.connections ||
      last.addresses !== now.addresses ||
      now.atMs - last.atMs >= RENDEZVOUS_REPROVIDE_MS;
  }

  /**
   * Records a provide that succeeded.
   *
   * @param cid The CID, as a string.
   * @param record What it was made with.
   */
  provided(cid: string, record: ProvideRecord): void {
    this.#provided.set(cid, record);
  }

  /**
   * Whether a provide went out with other addresses than `addresses` (a provide again is due).
   *
   * @param addresses Our addresses now, as one key.
   * @returns `false` too before any provide.
   */
  addressesChanged(addresses: string): boolean {
    return [...this.#provided.values()].some((p) => p.addresses !== addresses);
  }

  /**
   * Forgets the CIDs not in `inUse` (rotated out).
   *
   * @param inUse The CIDs of this cycle, as strings.
   * @returns The CIDs forgotten, whose re-provides should stop.
   */
  forgetRotatedOut(inUse: readonly string[]): string[] {
    const keep = new Set(inUse);
    const gone = [...this.#provided.keys()].filter((key) => !keep.has(key));
    for (const key of gone) this.#provided.delete(key);
    return gone;
  }
}
