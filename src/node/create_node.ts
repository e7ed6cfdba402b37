import { installDenoShims } from "./deno_shims.ts";
import { installFastEvents } from "./fast_events.ts";
import { createLibp2p, type Libp2p, type Libp2pOptions } from "libp2p";

/** A peer discovery factory as libp2p takes it (its components type is not exported). */
type DiscoveryFactory = NonNullable<Libp2pOptions["peerDiscovery"]>[number];
import { tcp } from "@libp2p/tcp";
import { denoTcp, ip6WildcardOnly } from "./deno_tcp.ts";
import { installYamuxWindowThreshold } from "./yamux_window.ts";
import { noiseEncrypter, sealBuffersFor, sendSlabsFor, yamuxMuxer } from "./data_path.ts";
import type { SendSlabs } from "./send_slabs.ts";
import { type Tuning, tuningFromEnv } from "./tuning.ts";
import { quietLogger } from "./quiet_logger.ts";
import { cachePeerStore } from "./peer_store_cache.ts";
import { type Identify, identify } from "@libp2p/identify";
import { type Ping, ping } from "@libp2p/ping";
import { type KadDHT, kadDHT, passthroughMapper } from "@libp2p/kad-dht";
import { type GossipSub, gossipsub } from "@libp2p/gossipsub";
import type { ConnectionGater, PrivateKey, Upgrader } from "@libp2p/interface";
import { createHash } from "node:crypto";
import type { Registry } from "prom-client";
import type { NetworkToken } from "../token/token.ts";
import {
  ADDRESS_DIAL_TIMEOUT_MS,
  CONNECTION_HEADROOM_RATIO,
  DEFAULT_LISTEN_ADDRS,
  DEFAULT_MAX_CONNECTIONS,
  DIAL_TIMEOUT_MS,
  GOSSIP_FRAMING_RESERVE_BYTES,
  GOSSIP_RPC_FRAMING_BYTES,
  INBOUND_CONNECTION_THRESHOLD,
  MAX_PENDING_INBOUND_CONNECTIONS,
  MAX_PENDING_PER_HOST,
  MDNS_DOMAIN,
  MDNS_INTERVAL_MS,
  MIN_CONNECTION_HEADROOM,
  OWN_DHT_BUCKET_SIZE,
  PRIVATE_NETWORK_LABEL,
  PUBLIC_BOOTSTRAP_PEERS,
  PUBLIC_DHT_PROTOCOL,
} from "./constants.ts";
import { silentConnectionCloser } from "./silent_connections.ts";
import { type Rendezvous, rendezvous } from "./rendezvous.ts";
import { providerRecordPolicy } from "./provider_records.ts";
import { AGENT_VERSION, VERSION } from "./version.ts";
import { autoDial } from "./auto_dial.ts";
import { type Membership, membership } from "./membership.ts";
import { type Liveness, liveness } from "./liveness.ts";
import { type PeerGuard, peerGuard, PeerHolds } from "./peer_guard.ts";
import { pendingPerHost } from "./pending_per_host.ts";
import { allowLargeGossipFrames } from "./gossip_frames.ts";
import { keepGossipWriters } from "./gossip_writers.ts";
import { messageIdKey, receivedMessageKey } from "./gossip_ids.ts";
import { gossipScoring, rescore } from "./gossip_scoring.ts";
import { type NatOptions, natParts } from "./nat.ts";
import type { MemberRelay } from "./relay_server.ts";
import type { RelayClient } from "./relay_client.ts";
import type { HolePunch } from "./hole_punch.ts";
import { reuseLimitedConnections } from "./reuse_limited.ts";
import { boundOutboundHandshakes } from "./dial_bounds.ts";
import { dialOrder } from "./address_order.ts";
import { isCircuit } from "./reachability.ts";
import type { ConnectionManager } from "@libp2p/interface-internal";

/** How to assemble a node: the common flags of every node-running command. */
export interface NodeOptions extends NatOptions {
  /** The decoded network token. */
  token: NetworkToken;
  /** Listen multiaddrs. @default {["/ip4/0.0.0.0/tcp/0", "/ip6/::/tcp/0"]} */
  listen?: readonly string[];
  /**
   * Bootstrap peers (multiaddrs with `/p2p/<id>`). `undefined` → the public IPFS list, as
   * LocalAI does; an explicit list replaces it; `[]` → none (a seed node).
   */
  bootstrapPeers?: readonly string[] | undefined;
  /** Kademlia DHT rendezvous. @default {true} */
  dht?: boolean;
  /** mDNS discovery on the local network, with the token's service tag. @default {true} */
  mdns?: boolean;
  /**
   * Private mode: the noise prologue and DHT protocol are derived from the token, so peers
   * without it fail the handshake. Go peers cannot join such a network. @default {false}
   */
  private?: boolean;
  /**
   * The node's key; a fresh Ed25519 key when absent.
   * @ignore
   */
  privateKey?: PrivateKey;
  /** Cap on open connections. @default {300} */
  maxConnections?: number;
  /** Upper bound between rendezvous cycles, in milliseconds. @default {10000} */
  rendezvousIntervalMs?: number;
  /** The clock, in milliseconds since the epoch (tests inject skew). @default {Date.now} */
  now?: () => number;
  /**
   * Consulted before connections are opened or accepted (libp2p `connectionGater`).
   * @ignore
   */
  connectionGater?: ConnectionGater;
  /**
   * A prom-client registry that receives libp2p's own `libp2p_*` metrics.
   * @ignore
   */
  metricsRegistry?: Registry;
  /**
   * When the noise cipher of the host's OpenSSL (Linux, `--allow-ffi`) is loaded: `"start"`,
   * or `"bulk"`, by the first message of 16 KiB or more (a tunnel's or a relayed circuit's
   * data). Until then the built-in ciphers run, about 2 µs slower per small message. A node
   * that carries no tunnels holds about 5.5 MiB less with `"bulk"`: the library and the FFI
   * code stay unmapped. `p2p node` uses `"bulk"`. @default {"start"}
   */
  openssl?: "start" | "bulk";
  /**
   * Data-path choices (TCP transport, yamux window updates, noise cipher switch); each is
   * wire-compatible, the defaults are the fast ones. @default {tuningFromEnv()}
   * @ignore
   */
  tuning?: Partial<Tuning>;
}

/** The services every p2p node runs. */
export interface NodeServices extends Record<string, unknown> {
  /** The identify protocol: peers exchange addresses, protocols and agent versions. */
  identify: Identify;
  /** The ping protocol: liveness and round-trip times. */
  ping: Ping;
  /** Gossipsub, which carries the sealed ledger and messaging topics. */
  pubsub: GossipSub;
  /** The rendezvous loop on the token's rotating DHT namespace. */
  rendezvous: Rendezvous;
  /** Who has proved to hold the token (challenge protocol, sealed gossip). */
  membership: Membership;
  /** Whether the peers pools and services rely on answer (one state per peer). */
  liveness: Liveness;
  /** Keeps strangers from exhausting the node (memory, slots) and holds off misbehavers. */
  peerGuard: PeerGuard;
  /** The Kademlia DHT, absent when `dht` is off. */
  dht?: KadDHT;
  /** Keeps relay reservations while the node is not publicly reachable. */
  relayClient: RelayClient;
  /** The members-only circuit relay, absent when `relayService` is off. */
  relay?: MemberRelay;
  /** Hole punching (DCUtR), absent when `holepunch` is off. */
  holePunch?: HolePunch;
  /** Read slabs of tunnels, reused once the cipher sealed them (`TUNNEL_BUFFERS`). */
  sendSlabs: SendSlabs;
}

/** A libp2p node assembled by {@linkcode createLibp2pNode}. */
export type P2PLibp2p = Libp2p<NodeServices>;

/**
 * Assembles (without starting) the libp2p node of p2p: TCP, noise, yamux, identify, ping,
 * Kademlia DHT, mDNS with the token's tag, gossipsub (flood publish, strict signing) and the
 * token's DHT rendezvous loop, with limits raised for many tunnelled streams.
 *
 * @param options The token and the common flags.
 * @returns The node, not yet started: register protocol handlers, then `start()` it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLibp2pNode } from "./create_node.ts";
 * import { generateTokenConfig } from "../token/token.ts";
 *
 * const node = await createLibp2pNode({
 *   token: generateTokenConfig(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * });
 * await node.start();
 * try {
 *   assert.ok(node.getMultiaddrs().length > 0);
 * } finally {
 *   await node.stop();
 * }
 * ```
 */
export async function createLibp2pNode(options: NodeOptions): Promise<P2PLibp2p> {
  installDenoShims();
  const tuning: Tuning = { ...tuningFromEnv(), ...options.tuning };
  // Process-wide (a prototype patch): once on, every yamux stream of the process has it.
  if (tuning.yamux === "half") installYamuxWindowThreshold();
  if (tuning.events === "fast") installFastEvents();
  const explicitBootstrap = options.bootstrapPeers !== undefined;
  const bootstrapPeers = options.bootstrapPeers ?? PUBLIC_BOOTSTRAP_PEERS;
  const useDht = options.dht ?? true;
  const prologue = options.private ? privateNetworkSecret(options.token, "noise") : undefined;
  const peerDiscovery: DiscoveryFactory[] = [];
  if (options.mdns ?? true) {
    // Loaded on demand, like the metrics below: a node without them does not hold the code.
    const { mdns } = await import("@libp2p/mdns");
    peerDiscovery.push(
      mdns({
        serviceTag: `${options.token.mdns}.${MDNS_DOMAIN}`,
        interval: MDNS_INTERVAL_MS,
      }) as DiscoveryFactory,
    );
  }
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const maxGossipFrame = options.token.maxMessageSize + GOSSIP_RPC_FRAMING_BYTES;
  const holds = new PeerHolds();
  // Our own addresses, once the node exists (see `notSelf`).
  const own: { addresses?: () => string[] } = {};
  // The scoring function needs the membership service, which exists once the node does.
  const proved: { by?: Membership } = {};
  const services: Record<string, unknown> = {
    identify: identify(),
    // Pool views, heartbeats and tests ping the same peers concurrently (default: 1 per connection).
    ping: ping({ maxInboundStreams: 32, maxOutboundStreams: 32 }),
    pubsub: gossipsub({
      floodPublish: true,
      doPX: true,
      allowPublishToZeroTopicPeers: true,
      // IHAVE gossip to every peer outside the mesh at each heartbeat (default: a quarter of
      // them, at least 6). A hub, such as the seed every member bootstrapped to, meshes with a
      // dozen peers; the others learn of a new block only by gossip, and with a quarter per
      // heartbeat some of 40 waited for the next rebroadcast (10 s). IHAVEs carry message IDs.
      gossipFactor: 1,
      globalSignaturePolicy: "StrictSign",
      // Copies of a message seen before are dropped before their signature is checked, and
      // message IDs are keyed without base64 (`gossip_ids.ts`).
      fastMsgIdFn: receivedMessageKey,
      msgIdToStrFn: messageIdKey,
      ...gossipScoring((peer) => proved.by?.isMember(peer) ?? false),
      // The ledger travels over relayed (limited) connections too.
      runOnLimitedConnection: true,
      // Whole RPC frames: a message at the token's cap plus its framing (or an IWANT answer
      // bundling several) must not reset the stream and cut the peer off. Oversize messages
      // are dropped one by one by the ledger hub ("oversize"), which checks the token's cap.
      maxInboundDataLength: maxGossipFrame,
    }),
    rendezvous: rendezvous({
      token: options.token,
      bootstrapPeers,
      dht: useDht,
      ...(options.rendezvousIntervalMs === undefined
        ? {}
        : { intervalMs: options.rendezvousIntervalMs }),
      ...(options.now === undefined ? {} : { now: options.now }),
    }),
    autoDial: autoDial(),
    membership: membership({ token: options.token }),
    liveness: liveness(options.now === undefined ? {} : { now: options.now }),
    peerGuard: peerGuard({ maxConnections, holds, maxFrameBytes: maxGossipFrame }),
    // Closes dead connections in place of the connection monitor (configured below).
    silentConnections: silentConnectionCloser(),
  };
  const listen = [...(options.listen ?? DEFAULT_LISTEN_ADDRS)];
  const nat = natParts(options, listen);
  Object.assign(services, nat.services);
  if (useDht) {
    services.dht = kadDHT({
      protocol: options.private ? dhtProtocolOf(options.token) : PUBLIC_DHT_PROTOCOL,
      // A private bootstrap list means a private cluster: serve records, keep LAN addresses.
      ...(explicitBootstrap ? { clientMode: false, peerInfoMapper: passthroughMapper } : {}),
      // A DHT of the network's own holds rendezvous records only: kept minutes, not the
      // 48 hours a public DHT server owes everyone's records, on 8 peers, not 20.
      ...(options.private || explicitBootstrap
        ? { reprovide: providerRecordPolicy(options.token), kBucketSize: OWN_DHT_BUCKET_SIZE }
        : {}),
    });
  }
  const prometheusMetrics = options.metricsRegistry === undefined
    ? undefined
    : (await import("@libp2p/prometheus-metrics")).prometheusMetrics;
  const logger = tuning.logger === "quiet" ? quietLogger() : undefined;
  // Full noise messages sealed into buffers the TCP writer gives back; tunnels' read slabs
  // lent again once the cipher sealed them.
  const sealBuffers = sealBuffersFor(tuning);
  const sendSlabs = sendSlabsFor(tuning);
  services.sendSlabs = () => sendSlabs;
  const node = await createLibp2p({
    start: false,
    ...(logger === undefined ? {} : { logger }),
    nodeInfo: { name: "p2p", version: VERSION, userAgent: AGENT_VERSION },
    ...(options.privateKey === undefined ? {} : { privateKey: options.privateKey }),
    connectionGater: bothGaters(
      bothGaters(holds.gater(), notSelf(() => own.addresses?.() ?? [])),
      options.connectionGater,
    ),
    addresses: { listen, appendAnnounce: nat.appendAnnounce },
    // Deno-native TCP, except for IPv6 wildcard listeners (Deno cannot bind them v6-only).
    transports: [
      ...(tuning.tcp === "deno"
        ? [
          denoTcp({
            reusePort: options.holepunch !== false,
            sealBuffers,
            alignReads: tuning.reads === "aligned",
          }),
          ip6WildcardOnly(tcp()),
        ]
        : [tcp()])
        .map((transport) => pendingPerHost(transport, MAX_PENDING_PER_HOST)),
      ...nat.transports as never[],
    ],
    connectionEncrypters: [
      noiseEncrypter(tuning, { prologue, openssl: options.openssl, sealBuffers, sendSlabs }),
    ],
    streamMuxers: [yamuxMuxer(tuning)],
    connectionManager: {
      maxConnections: maxConnections +
        Math.max(MIN_CONNECTION_HEADROOM, Math.ceil(maxConnections * CONNECTION_HEADROOM_RATIO)),
      inboundConnectionThreshold: INBOUND_CONNECTION_THRESHOLD,
      maxIncomingPendingConnections: MAX_PENDING_INBOUND_CONNECTIONS,
      dialTimeout: DIAL_TIMEOUT_MS,
      addressDialTimeout: ADDRESS_DIAL_TIMEOUT_MS,
      addressSorter: dialOrder(() => own.addresses?.() ?? []),
      inboundUpgradeTimeout: DIAL_TIMEOUT_MS,
    },
    // The monitor keeps pinging (the answers are what keeps a connection heard), but a failed
    // ping no longer drops the connection with every tunnel on it: silentConnections decides.
    connectionMonitor: { abortConnectionOnPingFailure: false },
    peerDiscovery,
    ...(options.metricsRegistry === undefined || prometheusMetrics === undefined ? {} : {
      metrics: prometheusMetrics({
        registry: options.metricsRegistry,
        preserveExistingMetrics: true,
        collectDefaultMetrics: false,
      }),
    }),
    services: services as never,
  });
  if (tuning.peerStore === "cached") cachePeerStore(node);
  allowLargeGossipFrames(node.services.pubsub as GossipSub, maxGossipFrame);
  keepGossipWriters(node.services.pubsub as GossipSub, {
    connections: (peer) => node.getConnections(peer),
  });
  const typed = node as unknown as P2PLibp2p;
  const { components } = node as unknown as {
    components: { connectionManager: ConnectionManager; upgrader: Upgrader };
  };
  reuseLimitedConnections(components.connectionManager);
  boundOutboundHandshakes(components.upgrader);
  own.addresses = () => typed.getMultiaddrs().map((ma) => withoutPeer(ma.toString()));
  proved.by = typed.services.membership;
  proved.by.addEventListener("member:proven", (event) => {
    rescore(typed.services.pubsub, event.detail);
  });
  return typed;
}

/**
 * The gossip message cap in force: the token's limit less the room the RPC framing takes
 * (receivers, Go peers included, cap whole frames at the token's size).
 *
 * @param token The network token, whose `maxMessageSize` receivers enforce.
 * @returns The largest gossip payload to send, in bytes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { GOSSIP_FRAMING_RESERVE_BYTES } from "./constants.ts";
 * import { gossipLimit } from "./create_node.ts";
 * import { generateTokenConfig } from "../token/token.ts";
 *
 * const token = generateTokenConfig(); // 20 MiB, as LocalAI's
 * assert.equal(gossipLimit(token), 20 * 1024 * 1024 - GOSSIP_FRAMING_RESERVE_BYTES);
 * ```
 */
export function gossipLimit(token: NetworkToken): number {
  return Math.max(1, token.maxMessageSize - GOSSIP_FRAMING_RESERVE_BYTES);
}

/**
 * Refuses to dial one of our own addresses: peers advertise `127.0.0.1:<their port>`, and
 * where they use the same port as we do (4001 on every host) that address is us.
 */
function notSelf(addresses: () => string[]): ConnectionGater {
  return {
    // A relayed address names its destination: only direct ones can be us in disguise.
    denyDialMultiaddr: (ma) => !isCircuit(ma) && addresses().includes(withoutPeer(ma.toString())),
  };
}

function withoutPeer(addr: string): string {
  return addr.replace(/\/p2p\/[^/]+$/, "");
}

/** A gater that denies what either denies. */
function bothGaters(first: ConnectionGater, second?: ConnectionGater): ConnectionGater {
  if (second === undefined) return first;
  const keys = new Set([...Object.keys(first), ...Object.keys(second)]) as Set<
    keyof ConnectionGater
  >;
  const gater: Record<string, unknown> = {};
  for (const key of keys) {
    gater[key] = async (...args: unknown[]) => {
      const call = (g: ConnectionGater) =>
        (g[key] as ((...a: unknown[]) => boolean | Promise<boolean>) | undefined)?.(...args) ??
          false;
      return (await call(first)) || (await call(second));
    };
  }
  return gater as ConnectionGater;
}

function privateNetworkSecret(token: NetworkToken, purpose: string): Uint8Array {
  const hash = createHash("sha256");
  hash.update(`${PRIVATE_NETWORK_LABEL}\n${purpose}\n${token.room}\n${token.otp.crypto.key}`);
  return new Uint8Array(hash.digest());
}

function dhtProtocolOf(token: NetworkToken): string {
  const id = Array.from(privateNetworkSecret(token, "dht").subarray(0, 8))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  return `/p2p/kad/${id}/1.0.0`;
}
