/**
 * p2p: private peer-to-peer networks of services, wire-compatible with LocalAI and edgevpn.
 *
 * One token is the shared secret of a network. A program starts a {@linkcode Network} on it
 * (the same runtime the `p2p` CLI runs: discovery, membership proofs, liveness, a sealed
 * replicated ledger) and adds what it needs: exposed services and tunnels, workers in pools,
 * a federated load balancer, the HTTP API with its dashboard and metrics, or messaging.
 * Everything added stops with the network.
 *
 * @example A federated balancer in front of a worker, with the dashboard
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateToken, startApi, startFederated, startNetwork, startWorker } from "@p2p/p2p";
 *
 * const token = generateToken();
 * const loopback = { token, listen: ["/ip4/127.0.0.1/tcp/0"], mdns: false, dht: false };
 * const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   new Response("hello from the worker\n"));
 * await using seed = await startNetwork({ ...loopback, bootstrapPeers: [] });
 * await using workerNode = await startNetwork({ ...loopback, bootstrapPeers: seed.addresses() });
 * await startWorker(workerNode, { target: `127.0.0.1:${backend.addr.port}` });
 * const balancer = await startFederated(seed, { listen: "127.0.0.1:0" });
 * const api = await startApi(seed, { listen: "127.0.0.1:0" }); // dashboard at http://…/
 * const online = Promise.withResolvers<void>();
 * seed.addEventListener("worker:online", () => online.resolve());
 * if (balancer.view.online().length === 0) await online.promise;
 * const reply = await fetch(`http://${balancer.address}/`);
 * assert.equal(await reply.text(), "hello from the worker\n");
 * assert.equal((await fetch(`http://${api.address}/healthz`)).status, 200);
 * await backend.shutdown();
 * ```
 *
 * @module
 */

// The network token (edgevpn format).
export { decodeToken, encodeToken, generateToken } from "./src/token/token.ts";
export type { GenerateTokenOptions, NetworkToken, OtpConfig } from "./src/token/token.ts";
export { inspectToken, type TimeWindow, type TokenInspection } from "./src/token/derive.ts";
export { InvalidTokenError } from "./src/token/errors.ts";

// The runtime: one network, its events and components.
export { Network, startNetwork } from "./src/network/network.ts";
export type { NetworkOptions } from "./src/network/options.ts";
export type { NetworkEvents } from "./src/network/events.ts";
export type { NodeOptions } from "./src/node/create_node.ts";
export type { NatOptions } from "./src/node/nat.ts";
export type { RelayLimits } from "./src/node/relay_server.ts";
export type { AutoNATRateLimit } from "./src/node/autonat_limits.ts";
export { TypedEvents } from "./src/network/typed_events.ts";
export { type NetworkComponent, type SharedKey, sharedKey } from "./src/network/components.ts";

// The replicated ledger.
export type { Ledger, LedgerStats } from "./src/ledger/ledger.ts";
export type { GossipRejection } from "./src/ledger/envelope.ts";
export type { Block, Storage } from "./src/ledger/block.ts";
export { LedgerWriteError } from "./src/ledger/errors.ts";
export type { EffectiveEntry, EntryClaims } from "./src/ledger/claims.ts";

// Services, workers and pools.
export { type ExposedService, type ExposeInit, exposeService } from "./src/services/expose.ts";
export { type ConnectedService, type ConnectInit, connectService } from "./src/services/connect.ts";
export { startWorker, type Worker, type WorkerInit } from "./src/services/worker.ts";
export { PoolTunnels, type PoolTunnelsInit, type WorkerTunnel } from "./src/services/discover.ts";
export type { PoolView, WorkerView } from "./src/services/pool.ts";
export type { NodeData } from "./src/services/records.ts";
export type { TunnelStats } from "./src/services/stats.ts";
export { InvalidAddressError } from "./src/services/target.ts";
export { FEDERATED_POOL, WORKER_POOL } from "./src/services/constants.ts";

// The federated load balancer.
export { FederatedServer, startFederated } from "./src/federated/server.ts";
export type { FederatedServerInit, FederatedStats } from "./src/federated/options.ts";
export type { Strategy, WorkerStats } from "./src/federated/balancer.ts";
export type { LatencyHistogram } from "./src/federated/latency_histogram.ts";

// The HTTP API, dashboard and metrics.
export { type ApiOptions, type RunningApi, startApi } from "./src/api/start_api.ts";
export { ApiListenError, type ApiServer } from "./src/api/server.ts";
export type { RouteHandler, Router } from "./src/api/router.ts";

// Messaging between programs.
export { createNode, P2PNode, type P2PNodeEvents, type PeerDetails } from "./src/messaging/node.ts";
export type { MessagingOptions, P2PNodeOptions } from "./src/messaging/options.ts";
export {
  type BroadcastResult,
  Messaging,
  type MessagingStats,
  type PeerStats,
} from "./src/messaging/messaging.ts";
export type {
  EncodeMessageOptions,
  IncomingMessage,
  MessageHandler,
  RequestOptions,
  SendOptions,
} from "./src/messaging/protocol_types.ts";
export type { TopicHandler, TopicMessage } from "./src/messaging/topics.ts";
export type { AdvertiseOptions } from "./src/messaging/directory.ts";
export type { Capabilities } from "./src/messaging/capabilities.ts";
export type { MemberRecord } from "./src/messaging/member_record.ts";
export type { PeerMatch, PeerQuery } from "./src/messaging/peer_query.ts";
export type { Gate } from "./src/messaging/trust.ts";
export type { RateLimit } from "./src/messaging/token_bucket.ts";
export type { LatencySummary, TrafficCounters, TrafficStats } from "./src/messaging/stats.ts";
export {
  MessageRejectedError,
  MessageTooLargeError,
  MessagingError,
  NodeNotRunningError,
  PeerDeniedError,
  PeerUnreachableError,
  RateLimitedError,
  type RejectionReason,
  RemoteHandlerError,
  RequestTimeoutError,
  UnknownMessageTypeError,
} from "./src/messaging/errors.ts";
