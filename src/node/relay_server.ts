/**
 * The circuit relay v2 service every node runs by default, like edgevpn's `--relay-service`:
 * `@libp2p/circuit-relay-v2`'s server with edgevpn's limits, reservations and circuits for
 * network members only (edgevpn's `--relay-service-network-only`), and these fixes:
 *
 * - **Duration units** (circuit-relay-v2 4.2.13): the server writes its duration limit in
 *   milliseconds into the wire `Limit.duration`, which the spec, go-libp2p and js's own client
 *   read as seconds (a 30 min limit reached clients as 20 days). Here the wire carries seconds
 *   while the relay still cuts circuits after the limit in milliseconds.
 * - **Data limits of 2 GiB or more** reach js clients as 0, "unlimited" (a protons-runtime
 *   7.1.2 uint64 bug): the wire carries at most 2^31 − 1 bytes.
 * - **Addresses in reservations**: the server hands out every address it has, loopback
 *   included, and clients advertise `<each>/p2p-circuit`; here a relay with public addresses
 *   hands out those, else its non-loopback ones.
 * - **Backpressure**: the server joins a circuit's two streams with `pipe()`, which buffers
 *   whatever the source sends however slowly the destination reads. Circuits are answered here
 *   (`handleConnect`, the same checks and answers) and joined by {@linkcode spliceStreams}.
 *
 * @module
 */
import type {
  AbortOptions,
  ComponentLogger,
  Connection,
  ConnectionGater,
  PeerId,
  PeerStore,
  PrivateKey,
  Stream,
} from "@libp2p/interface";
import type { AddressManager, ConnectionManager, Registrar } from "@libp2p/interface-internal";
import { circuitRelayServer, type CircuitRelayService } from "@libp2p/circuit-relay-v2";
import { isLoopback, isPrivate } from "@libp2p/utils";
import { peerIdFromMultihash } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import * as Digest from "multiformats/hashes/digest";
import type { Membership } from "./membership.ts";
import { isCircuit } from "./reachability.ts";
import { encodeHopStatus, RelayStatus, type WireLimit } from "./relay_message.ts";
import { spliceStreams } from "./relay_splice.ts";
import {
  RELAY_MAX_CIRCUITS,
  RELAY_MAX_DATA_BYTES,
  RELAY_MAX_DURATION_MS,
  RELAY_MAX_RESERVATIONS,
  RELAY_MEMBER_WAIT_MS,
  RELAY_RESERVATION_TTL_MS,
} from "./constants.ts";

/** Limits of the relay service (edgevpn's `--relay-service-*` flags). */
export interface RelayLimits {
  /** Bytes one circuit may carry in each direction. @default {1 GiB} */
  maxDataBytes?: number;
  /** How long one circuit may last, in ms. @default {30 min} */
  maxDurationMs?: number;
  /** Circuits relayed at once. @default {64} */
  maxCircuits?: number;
  /** How long a reservation lasts before the client must renew it, in ms. @default {1 h} */
  reservationTtlMs?: number;
}

/** Options of {@linkcode memberRelayServer}. */
export interface MemberRelayInit extends RelayLimits {
  /** How long a peer has to prove membership when it asks. @default {15 s} */
  memberWaitMs?: number;
}

/** What the node gives the relay service. */
export interface MemberRelayComponents {
  registrar: Registrar;
  peerStore: PeerStore;
  addressManager: AddressManager;
  peerId: PeerId;
  privateKey: PrivateKey;
  connectionManager: ConnectionManager;
  connectionGater: ConnectionGater;
  logger: ComponentLogger;
  /** Who has proved to hold the token: only they reserve, dial through and are dialed. */
  membership: Membership;
}

/** The relay service, with counters for the API. */
export interface MemberRelay extends CircuitRelayService {
  /** Circuits relayed right now. */
  readonly circuits: number;
  /** Reservations and circuits refused to peers that did not prove membership. */
  readonly refused: number;
}

interface PbWriter {
  read(options?: unknown): Promise<unknown>;
  write(message: { limit?: WireLimit }, options?: unknown): Promise<void>;
  unwrap(): unknown;
}

interface PbStream {
  pb(codec: unknown): PbWriter;
  unwrap(): unknown;
}

/** A circuit request as the server decoded it. */
interface HopRequest {
  peer?: { id: Uint8Array; addrs: Uint8Array[] };
}

/** A reservation in the server's store: its limit (duration in ms) and its lifetime. */
interface StoredReservation {
  limit?: { duration?: number; data?: bigint };
  signal?: AbortSignal;
}

/** The server's own members the fixes use (circuit-relay-v2 4.2.13 `CircuitRelayServer`). */
interface RelayInternals {
  handleHopProtocol(args: { stream: PbStream }, options: unknown): Promise<void>;
  handleConnect(
    args: { stream: PbStream; request: HopRequest; connection: Connection },
    options?: AbortOptions,
  ): Promise<void>;
  stopHop(
    args: { connection: Connection; request: StopRequest },
    options?: AbortOptions,
  ): Promise<Stream | undefined>;
  makeReservation(peer: PeerId, expire: bigint): Promise<{ addrs: Uint8Array[] }>;
  reservationStore: { get(peer: PeerId): StoredReservation | undefined };
  shutdownController: AbortController;
}

/** The STOP request the server sends to a circuit's destination. */
interface StopRequest {
  type: "CONNECT";
  peer: { id: Uint8Array; addrs: Uint8Array[] };
  limit?: WireLimit;
}

/** Largest data limit js peers read back right: protons-runtime 7.1.2 turns a uint64 of
 * 2^31 or more into 0 ("no limit") on the way. */
const MAX_WIRE_DATA = 2n ** 31n - 1n;

/** A copy of `message` as the wire wants it: the duration in seconds, the data limit
 * within {@linkcode MAX_WIRE_DATA} (the relay still counts its real budget). */
function forTheWire<T extends { limit?: WireLimit }>(message: T): T {
  const limit = message.limit;
  if (limit === undefined || limit === null) return message;
  const wire: WireLimit = { ...limit };
  if (limit.duration !== undefined && limit.duration !== null) {
    wire.duration = Math.ceil(limit.duration / 1000);
  }
  if (limit.data !== undefined && limit.data !== null && limit.data > MAX_WIRE_DATA) {
    wire.data = MAX_WIRE_DATA;
  }
  return { ...message, limit: wire };
}

function secondsOnTheWire(stream: PbStream): PbStream {
  return {
    pb(codec) {
      const inner = stream.pb(codec);
      return {
        read: (options) => inner.read(options),
        write: (message, options) => inner.write(forTheWire(message), options),
        unwrap: () => inner.unwrap(),
      };
    },
    unwrap: () => stream.unwrap(),
  };
}

/** What answering a circuit request needs from the node and the server. */
interface CircuitDeps {
  internals: RelayInternals;
  gater: ConnectionGater;
  connectionManager: ConnectionManager;
}

/** The destination of a circuit request, or `undefined` if the request is malformed. */
function requestedPeer(request: HopRequest): PeerId | undefined {
  try {
    if (request.peer === undefined) return undefined;
    request.peer.addrs.forEach((addr) => multiaddr(addr));
    return peerIdFromMultihash(Digest.decode(request.peer.id));
  } catch {
    return undefined;
  }
}

/**
 * Answers a circuit request (the server's `handleConnect`: the same checks, in the same
 * order, with the same answers) and joins the two streams with {@linkcode spliceStreams}.
 */
async function answerCircuit(
  deps: CircuitDeps,
  hop: Stream,
  request: HopRequest,
  connection: Connection,
  options?: AbortOptions,
): Promise<void> {
  const refuse = (status: number): void => {
    hop.send(encodeHopStatus(status));
    hop.close().catch(() => {});
  };
  // A circuit over a circuit is refused, as the spec asks.
  if (isCircuit(connection.remoteAddr)) return refuse(RelayStatus.PERMISSION_DENIED);
  const destination = requestedPeer(request);
  if (destination === undefined) return refuse(RelayStatus.MALFORMED_MESSAGE);
  const reservation = deps.internals.reservationStore.get(destination);
  if (reservation === undefined) return refuse(RelayStatus.NO_RESERVATION);
  const denied = await deps.gater.denyOutboundRelayedConnection?.(
    connection.remotePeer,
    destination,
  );
  if (denied === true) return refuse(RelayStatus.PERMISSION_DENIED);
  const destinationConnection = deps.connectionManager.getConnections(destination)[0];
  if (destinationConnection === undefined) return refuse(RelayStatus.NO_RESERVATION);
  const limit = reservation.limit;
  const stop = await deps.internals.stopHop({
    connection: destinationConnection,
    request: {
      type: "CONNECT",
      peer: { id: connection.remotePeer.toMultihash().bytes, addrs: [] },
      ...(limit === undefined ? {} : { limit }),
    },
  }, options);
  if (stop === undefined) return refuse(RelayStatus.CONNECTION_FAILED);
  hop.send(encodeHopStatus(RelayStatus.OK, limit && forTheWire({ limit }).limit));
  const signals = [deps.internals.shutdownController.signal];
  if (reservation.signal !== undefined) signals.push(reservation.signal);
  if (limit?.duration !== undefined) signals.push(AbortSignal.timeout(limit.duration));
  void spliceStreams(hop, stop, {
    signal: AbortSignal.any(signals),
    ...(limit?.data === undefined ? {} : { dataBytes: limit.data }),
  });
}

/** Public addresses when there are some, else all but loopback, else all. */
function preferredAddresses(addrs: Uint8Array[]): Uint8Array[] {
  const parsed = addrs.map((bytes) => ({ bytes, ma: multiaddr(bytes) }));
  const usable = (pick: (ma: ReturnType<typeof multiaddr>) => boolean): Uint8Array[] =>
    parsed.filter(({ ma }) => pick(ma)).map(({ bytes }) => bytes);
  const isPublic = usable((ma) => !isPrivate(ma) && !isLoopback(ma));
  if (isPublic.length > 0) return isPublic;
  const nonLoopback = usable((ma) => !isLoopback(ma));
  return nonLoopback.length > 0 ? nonLoopback : addrs;
}

/**
 * The members-only relay service (see the module documentation).
 *
 * @param init Limits (edgevpn's by default) and the membership wait.
 * @returns A libp2p service factory (register it as `relay`, after `membership`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { memberRelayServer } from "./relay_server.ts";
 *
 * assert.equal(typeof memberRelayServer({ maxCircuits: 16 }), "function");
 * ```
 */
export function memberRelayServer(
  init: MemberRelayInit = {},
): (components: MemberRelayComponents) => MemberRelay {
  const maxData = init.maxDataBytes ?? RELAY_MAX_DATA_BYTES;
  const factory = circuitRelayServer({
    reservations: {
      maxReservations: RELAY_MAX_RESERVATIONS,
      reservationTtl: init.reservationTtlMs ?? RELAY_RESERVATION_TTL_MS,
      // js relays count both directions against one budget.
      defaultDataLimit: BigInt(maxData) * 2n,
      defaultDurationLimit: init.maxDurationMs ?? RELAY_MAX_DURATION_MS,
    },
    maxInboundHopStreams: RELAY_MAX_CIRCUITS * 2,
    maxOutboundStopStreams: RELAY_MAX_CIRCUITS * 2,
  });
  return (components) => {
    const maxCircuits = init.maxCircuits ?? RELAY_MAX_CIRCUITS;
    const waitMs = init.memberWaitMs ?? RELAY_MEMBER_WAIT_MS;
    let circuits = 0;
    let refused = 0;
    const proves = async (peer: PeerId): Promise<boolean> => {
      const membership = components.membership;
      const id = peer.toString();
      const connection = components.connectionManager.getConnections(peer)[0];
      // A wrong answer to the challenge ends the wait; no answer (a LocalAI peer cannot
      // answer it) waits for a proof by gossip.
      const wrong = new AbortController();
      if (connection !== undefined && !membership.isMember(id)) {
        void membership.challenge(connection).then((ok) => {
          if (!ok && membership.failedProof(id)) wrong.abort();
        });
      }
      const ok = membership.failedProof(id) ? false : await membership.waitForMember(
        id,
        AbortSignal.any([AbortSignal.timeout(waitMs), wrong.signal]),
      );
      if (!ok) refused++;
      return ok;
    };
    const base = components.connectionGater;
    const gater: ConnectionGater = {
      ...base,
      denyInboundRelayReservation: async (source) =>
        (await base.denyInboundRelayReservation?.(source)) === true || !(await proves(source)),
      denyOutboundRelayedConnection: async (source, destination) =>
        (await base.denyOutboundRelayedConnection?.(source, destination)) === true ||
        circuits >= maxCircuits || !(await proves(source)) ||
        !components.membership.isMember(destination),
    };
    const service = factory(
      Object.create(components, { connectionGater: { value: gater } }),
    ) as CircuitRelayService;
    const internals = service as unknown as RelayInternals;
    const handleHop = internals.handleHopProtocol.bind(service);
    internals.handleHopProtocol = (args, options) =>
      handleHop({ ...args, stream: secondsOnTheWire(args.stream) }, options);
    const stopHop = internals.stopHop.bind(service);
    internals.stopHop = async (args, options) => {
      const stream = await stopHop({ ...args, request: forTheWire(args.request) }, options);
      if (stream !== undefined) {
        circuits++;
        stream.addEventListener("close", () => circuits--, { once: true });
      }
      return stream;
    };
    const deps = { internals, gater, connectionManager: components.connectionManager };
    internals.handleConnect = async ({ stream, request, connection }, options) => {
      const hop = stream.unwrap() as Stream;
      try {
        await answerCircuit(deps, hop, request, connection, options);
      } catch (err) {
        hop.abort(err instanceof Error ? err : new Error(String(err)));
      }
    };
    const makeReservation = internals.makeReservation.bind(service);
    internals.makeReservation = async (peer, expire) => {
      const reservation = await makeReservation(peer, expire);
      return { ...reservation, addrs: preferredAddresses(reservation.addrs) };
    };
    return Object.defineProperties(service, {
      circuits: { get: () => circuits },
      refused: { get: () => refused },
    }) as MemberRelay;
  };
}
