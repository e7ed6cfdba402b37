/**
 * Hole punching (DCUtR, `/libp2p/dcutr`, as go-libp2p speaks it): a relayed connection between
 * two members is upgraded to a direct TCP connection through both NATs, and the relayed one is
 * closed once nothing but control traffic uses it.
 *
 * Why not `@libp2p/dcutr`: under Deno it never upgrades (js-libp2p 3.3.11): the addresses it
 * sends are the verified ones, and a NATed node has none; `Deno.connect` cannot dial from the
 * listen port; the receiving side's `initiator: false` is dropped by the dial queue, and yamux
 * takes its role from the socket's direction, so a simultaneous open had two initiators; and
 * its three tries go out 20 ms apart, each killed by the peer NAT's reset before the peer's own
 * SYN leaves. Here: the addresses sent are those peers observed on our listen port (our dials
 * leave from it, see `reuse_port.ts`); the dial is made by our transport (`DenoTcp.punch`) in
 * the role go-libp2p gives each side (the side that received the relayed connection and opens
 * the stream dials as client, the other as server); tries are spaced.
 *
 * @module
 */
import type {
  ComponentLogger,
  Connection,
  IdentifyResult,
  Libp2pEvents,
  Logger,
  PeerId,
  Startable,
  Stream,
  TypedEventTarget,
  Upgrader,
} from "@libp2p/interface";
import type { ConnectionManager, Registrar, TransportManager } from "@libp2p/interface-internal";
import { lpStream } from "@libp2p/utils";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import {
  DCUTR_PROTOCOL,
  HOLEPUNCH_ATTEMPTS,
  HOLEPUNCH_CONTROL_PROTOCOLS,
  HOLEPUNCH_DIAL_TIMEOUT_MS,
  HOLEPUNCH_IDLE_CHECK_MS,
  HOLEPUNCH_MAX_MESSAGE,
  HOLEPUNCH_RETRY_SPACING_MS,
  HOLEPUNCH_STREAM_TIMEOUT_MS,
} from "./constants.ts";
import type { Membership } from "./membership.ts";
import { isCircuit, isPublicDirect } from "./reachability.ts";
import { decodeHolePunch, encodeHolePunch, HolePunchType } from "./hole_punch_message.ts";

/** What the node gives the {@linkcode holePunch} component. */
export interface HolePunchComponents {
  registrar: Registrar;
  events: TypedEventTarget<Libp2pEvents>;
  connectionManager: ConnectionManager;
  transportManager: TransportManager;
  upgrader: Upgrader;
  membership: Membership;
  logger: ComponentLogger;
}

/** Counters of a {@linkcode HolePunch}. */
export interface HolePunchStats {
  attempts: number;
  successes: number;
  failures: number;
}

interface PunchTransport {
  reusedPort(): number | undefined;
  punch(
    ma: Multiaddr,
    role: "client" | "server",
    options: { upgrader: Upgrader; signal: AbortSignal },
  ): Promise<Connection | undefined>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** See the module documentation. */
export class HolePunch implements Startable {
  readonly [Symbol.toStringTag] = "@p2p/hole-punch";
  readonly stats: HolePunchStats = { attempts: 0, successes: 0, failures: 0 };
  #c: HolePunchComponents;
  #log: Logger;
  #observed = new Map<string, number>();
  #inFlight = new Set<string>();
  #started = false;

  constructor(components: HolePunchComponents) {
    this.#c = components;
    this.#log = components.logger.forComponent("p2p:hole-punch");
  }

  isStarted(): boolean {
    return this.#started;
  }

  async start(): Promise<void> {
    await this.#c.registrar.handle(DCUTR_PROTOCOL, this.#answer, {
      runOnLimitedConnection: true,
      maxInboundStreams: 4,
      maxOutboundStreams: 4,
    });
    this.#c.events.addEventListener("peer:identify", this.#onIdentify);
    this.#c.events.addEventListener("connection:open", this.#onOpen);
    this.#started = true;
  }

  async stop(): Promise<void> {
    this.#started = false;
    this.#c.events.removeEventListener("peer:identify", this.#onIdentify);
    this.#c.events.removeEventListener("connection:open", this.#onOpen);
    await this.#c.registrar.unhandle(DCUTR_PROTOCOL);
  }

  /** Our addresses a peer can punch to: public ones peers observed on our listen port. */
  punchableAddresses(): Multiaddr[] {
    return [...this.#observed.keys()].map((text) => multiaddr(text));
  }

  #transport(): PunchTransport | undefined {
    const found = this.#c.transportManager.getTransports().find((t) =>
      (t as unknown as Record<symbol, unknown>)[Symbol.toStringTag] === "@p2p/deno-tcp"
    ) as unknown as PunchTransport | undefined;
    return found?.reusedPort() === undefined ? undefined : found;
  }

  #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    try {
      this.#noteObserved(event.detail);
    } catch (err) {
      this.#log("cannot note an observed address - %e", err);
    }
  };

  #noteObserved(result: IdentifyResult): void {
    const observed = result.observedAddr;
    const port = this.#transport()?.reusedPort();
    if (
      observed === undefined || port === undefined || isCircuit(result.connection.remoteAddr)
    ) {
      return;
    }
    const parts = observed.getComponents();
    if (parts[1]?.name !== "tcp" || Number(parts[1].value) !== port || !isPublicDirect(observed)) {
      return;
    }
    const text = multiaddr(`/${parts[0]!.name}/${parts[0]!.value}/tcp/${port}`).toString();
    this.#observed.delete(text);
    this.#observed.set(text, Date.now());
    while (this.#observed.size > 4) this.#observed.delete(this.#observed.keys().next().value!);
  }

  #onOpen = (event: CustomEvent<Connection>): void => {
    const connection = event.detail;
    // go-libp2p's rule: the side that received the relayed connection starts the punch.
    if (!isCircuit(connection.remoteAddr) || connection.direction !== "inbound") return;
    const peer = connection.remotePeer.toString();
    if (this.#inFlight.has(peer) || this.#transport() === undefined) return;
    this.#inFlight.add(peer);
    this.#initiate(connection)
      .catch((err) => this.#log("hole punching %s failed - %e", peer, err))
      .finally(() => this.#inFlight.delete(peer));
  };

  #hasDirect(peer: PeerId): boolean {
    return this.#c.connectionManager.getConnections(peer).some((c) =>
      c.status === "open" && !isCircuit(c.remoteAddr)
    );
  }

  async #initiate(relayed: Connection): Promise<void> {
    const peer = relayed.remotePeer;
    const signal = AbortSignal.timeout(HOLEPUNCH_STREAM_TIMEOUT_MS);
    if (!await this.#c.membership.waitForMember(peer.toString(), signal, relayed)) return;
    for (let attempt = 1; attempt <= HOLEPUNCH_ATTEMPTS; attempt++) {
      if (this.#hasDirect(peer) || relayed.status !== "open") break;
      this.stats.attempts++;
      try {
        if (await this.#attempt(relayed)) {
          this.stats.successes++;
          this.#log("direct connection to %p after %d attempt(s)", peer, attempt);
          this.#closeWhenIdle(relayed);
          return;
        }
      } catch (err) {
        this.#log("hole punch attempt %d to %p failed - %e", attempt, peer, err);
      }
      // Spaced: a NAT that answers with RST kills the SYN that arrives early; the next
      // attempt must not arrive in the same instant again.
      await sleep(HOLEPUNCH_RETRY_SPACING_MS * attempt * (0.75 + Math.random() / 2));
    }
    if (!this.#hasDirect(peer)) this.stats.failures++;
  }

  /** One exchange as the initiator: CONNECT, CONNECT, SYNC, then dial as client. */
  async #attempt(relayed: Connection): Promise<boolean> {
    const signal = AbortSignal.timeout(HOLEPUNCH_STREAM_TIMEOUT_MS);
    const stream = await relayed.newStream(DCUTR_PROTOCOL, {
      signal,
      runOnLimitedConnection: true,
    });
    const lp = lpStream(stream, { maxDataLength: HOLEPUNCH_MAX_MESSAGE });
    const started = performance.now();
    await lp.write(encodeHolePunch(HolePunchType.CONNECT, this.#ours()), { signal });
    const answer = decodeHolePunch((await lp.read({ signal })).subarray());
    const rtt = performance.now() - started;
    if (answer.type !== HolePunchType.CONNECT) throw new Error("expected CONNECT");
    await lp.write(encodeHolePunch(HolePunchType.SYNC, []), { signal });
    await stream.close({ signal }).catch(() => stream.abort(new Error("closing")));
    await sleep(rtt / 2);
    return await this.#dial(relayed.remotePeer, answer.addrs, "client");
  }

  /** The responder: answers CONNECT with ours, dials as server on SYNC. */
  #answer = async (stream: Stream, connection: Connection): Promise<void> => {
    const signal = AbortSignal.timeout(HOLEPUNCH_STREAM_TIMEOUT_MS);
    try {
      const lp = lpStream(stream, { maxDataLength: HOLEPUNCH_MAX_MESSAGE });
      const connect = decodeHolePunch((await lp.read({ signal })).subarray());
      if (connect.type !== HolePunchType.CONNECT) throw new Error("expected CONNECT");
      await lp.write(encodeHolePunch(HolePunchType.CONNECT, this.#ours()), { signal });
      const sync = decodeHolePunch((await lp.read({ signal })).subarray());
      if (sync.type !== HolePunchType.SYNC) throw new Error("expected SYNC");
      this.stats.attempts++;
      if (await this.#dial(connection.remotePeer, connect.addrs, "server")) {
        this.stats.successes++;
        this.#closeWhenIdle(connection);
      } else {
        this.stats.failures++;
      }
    } catch (err) {
      this.#log("could not answer a hole punch from %p - %e", connection.remotePeer, err);
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    }
  };

  #ours(): Uint8Array[] {
    return this.punchableAddresses().map((ma) => ma.bytes);
  }

  /** Dials every public TCP address of the peer from our listen port, in `role`. */
  async #dial(peer: PeerId, addrs: Uint8Array[], role: "client" | "server"): Promise<boolean> {
    const transport = this.#transport();
    if (transport === undefined) return false;
    const targets = addrs.flatMap((bytes) => {
      try {
        const ma = multiaddr(bytes);
        const parts = ma.getComponents();
        return parts[0]?.name === "ip4" && parts[1]?.name === "tcp" && isPublicDirect(ma)
          ? [multiaddr(`/ip4/${parts[0].value}/tcp/${parts[1].value}/p2p/${peer}`)]
          : [];
      } catch {
        return [];
      }
    });
    const signal = AbortSignal.timeout(HOLEPUNCH_DIAL_TIMEOUT_MS);
    await Promise.allSettled(
      targets.map((ma) => transport.punch(ma, role, { upgrader: this.#c.upgrader, signal })),
    );
    return this.#hasDirect(peer);
  }

  /** Closes the relayed connection once only control protocols use it (tunnels finish). */
  #closeWhenIdle(relayed: Connection): void {
    const check = (): void => {
      if (relayed.status !== "open") return;
      const busy = relayed.streams.some((s) =>
        s.protocol === undefined ||
        !HOLEPUNCH_CONTROL_PROTOCOLS.some((p) => s.protocol!.startsWith(p))
      );
      if (busy) {
        setTimeout(check, HOLEPUNCH_IDLE_CHECK_MS);
        return;
      }
      relayed.close().catch((err) => relayed.abort(err));
    };
    setTimeout(check, HOLEPUNCH_IDLE_CHECK_MS);
  }
}

/**
 * The hole punching component (see {@linkcode HolePunch}).
 *
 * @returns A libp2p service factory (register it as `holePunch`, after `membership`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { holePunch } from "./hole_punch.ts";
 *
 * assert.equal(typeof holePunch(), "function");
 * ```
 */
export function holePunch(): (components: HolePunchComponents) => HolePunch {
  return (components) => new HolePunch(components);
}
