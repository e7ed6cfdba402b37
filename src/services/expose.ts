import type { Connection, Stream } from "@libp2p/interface";
import { getLogger } from "@logtape/logtape";
import type { Network } from "../network/network.ts";
import { addressSetKey } from "../node/address_set.ts";
import { bridge } from "./bridge.ts";
import { TUNNEL_BUFFERS } from "./tunnel_buffers.ts";
import {
  ACK_CONNECTED,
  ACK_TARGET_UNREACHABLE,
  ADMISSION_WAIT_MS,
  MAX_SERVICE_STREAMS,
  SERVICE_ACK_PROTOCOL,
  SERVICE_PROTOCOL,
  SERVICES_BUCKET,
  TARGET_DIAL_TIMEOUT_MS,
  USERS_BUCKET,
} from "./constants.ts";
import type { ServiceRecord } from "./records.ts";
import { RepeatedWarning } from "./repeated_warning.ts";
import { emptyTunnelStats, TUNNEL_TOTALS, type TunnelStats } from "./stats.ts";
import { parseTarget } from "./target.ts";

const log = getLogger(["p2p", "expose"]);

/** How long a stream from a peer not (yet) in `users` waits for its entry to arrive. */
/** Options of {@linkcode exposeService}. */
export interface ExposeInit {
  /** `HOST:PORT` of the local TCP service. */
  target: string;
  /** The name under which it is registered in the `services` bucket. */
  service: string;
}

/** A service being exposed: see {@linkcode exposeService}. */
export interface ExposedService {
  /** The name it is registered under in the `services` bucket. */
  readonly service: string;
  /** `HOST:PORT` of the local TCP service. */
  readonly target: string;
  /** Counters of the tunnels served so far. */
  readonly stats: TunnelStats;
  /** Unregisters the handler and closes open tunnels (the ledger entry is forgotten). */
  stop(): Promise<void>;
}

/**
 * Serves the `/edgevpn/service/0.1` protocol: each stream from a peer present in the `users`
 * bucket is bridged to a new TCP connection to `target`. Registers
 * `services[service] = {PeerID, Name}` and keeps it announced.
 *
 * A peer whose `users` entry has not arrived yet waits a few seconds for it instead of
 * being reset at once (edgevpn resets the first streams of a brand-new consumer). A target
 * that is down resets the stream, logs a rate-limited warning, and the node lives on.
 *
 * @param network The running network.
 * @param init The local target and the service name.
 * @returns The exposed service; it stops with the network, or with its `stop()`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { exposeService, startNetwork } from "@p2p/p2p";
 * import { SERVICES_BUCKET } from "../ledger/constants.ts";
 * import { generateTokenConfig } from "../token/token.ts";
 *
 * const network = await startNetwork({
 *   token: generateTokenConfig(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * });
 * try {
 *   const web = await exposeService(network, { target: "127.0.0.1:8080", service: "web" });
 *   // Its record names this node, with its addresses (Go peers read PeerID and Name), and is
 *   // signed by it: readers honour it over anything else written under the name.
 *   const record = network.ledger.get(SERVICES_BUCKET, "web") as Record<string, unknown>;
 *   assert.equal(record.PeerID, network.peerId);
 *   assert.deepEqual(record.Multiaddrs, network.addresses());
 *   assert.equal(network.claims.get(SERVICES_BUCKET, "web")?.signer, network.peerId);
 *   await web.stop();
 * } finally {
 *   await network.stop();
 * }
 * ```
 */
export async function exposeService(network: Network, init: ExposeInit): Promise<ExposedService> {
  const target = parseTarget(init.target, "--target");
  const stats = emptyTunnelStats();
  const tunnelTotals = network.shared(TUNNEL_TOTALS);
  const buffers = network.shared(TUNNEL_BUFFERS);
  const open = new Set<Stream>();
  const targetDown = new RepeatedWarning(
    log,
    "Cannot reach the target {target} of service {service}: {error}",
  );
  const warnTargetDown = (err: unknown): void =>
    targetDown.warn({
      target: init.target,
      service: init.service,
      error: err instanceof Error ? err.message : String(err),
    });

  const handler = async (stream: Stream, connection: Connection): Promise<void> => {
    const peer = connection.remotePeer.toString();
    // Until the bridge reads it, the stream must not take more than a window: a client may
    // send at once (LocalAI and `connect` do not wait for the protocol answer), and libp2p
    // resets a stream that buffered 4 MiB unread while admission or the target dial waits.
    // (A stream already ended or reset by the remote cannot be paused; the bridge handles it.)
    if (stream.readStatus === "readable") stream.pause();
    const refusal = await admission(network, peer, connection);
    if (refusal !== undefined) {
      log.debug("Refused a service stream from {peer}: {refusal}", { peer, refusal });
      stream.abort(new Error(`peer ${refusal}`));
      stats.failed++;
      return;
    }
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({
        ...target,
        signal: AbortSignal.timeout(TARGET_DIAL_TIMEOUT_MS),
      } as Deno.ConnectOptions);
    } catch (err) {
      stats.failed++;
      tunnelTotals.failed++;
      warnTargetDown(err);
      if (stream.protocol === SERVICE_ACK_PROTOCOL && stream.writeStatus === "writable") {
        stream.send(Uint8Array.of(ACK_TARGET_UNREACHABLE));
        await stream.close().catch(() => stream.abort(new Error("target unreachable")));
      } else {
        stream.abort(new Error("target unreachable"));
      }
      return;
    }
    if (stream.protocol === SERVICE_ACK_PROTOCOL) {
      if (stream.writeStatus !== "writable") {
        // The peer gave up (reset) while the target was being dialled: nothing to confirm.
        conn.close();
        return;
      }
      stream.send(Uint8Array.of(ACK_CONNECTED));
    }
    open.add(stream);
    if (stream.readStatus === "paused") stream.resume();
    stats.active++;
    stats.total++;
    tunnelTotals.active++;
    tunnelTotals.total++;
    try {
      await bridge(conn, stream, {
        buffers,
        onBytes: (direction, bytes) => {
          const field = direction === "streamToTcp" ? "bytesReceived" : "bytesSent";
          stats[field] += bytes;
          tunnelTotals[field] += bytes;
        },
      });
    } finally {
      open.delete(stream);
      stats.active--;
      tunnelTotals.active--;
    }
  };

  await network.node.handle([SERVICE_ACK_PROTOCOL, SERVICE_PROTOCOL], handler, {
    maxInboundStreams: MAX_SERVICE_STREAMS,
    maxOutboundStreams: MAX_SERVICE_STREAMS,
    // Tunnels run over relayed connections too (a relay's limits are checked by the dialer).
    runOnLimitedConnection: true,
  });
  // The record carries the node's addresses (direct or relayed): a consumer dials them
  // without a DHT lookup. Rewritten when they change (a relay reservation, a port mapping).
  let advertised = "";
  const announce = async (): Promise<void> => {
    const addrs = network.node.getMultiaddrs().map(String);
    const key = addressSetKey(addrs);
    if (key === advertised) return;
    advertised = key;
    const record: ServiceRecord = await network.sign(SERVICES_BUCKET, init.service, {
      Name: init.service,
      Multiaddrs: addrs,
    });
    await network.ledger.put(SERVICES_BUCKET, init.service, record);
  };
  const onAddresses = (): void => {
    announce().catch((err) =>
      log.warning("Cannot announce service {service}: {error}", {
        service: init.service,
        error: String(err),
      })
    );
  };
  await announce();
  network.node.addEventListener("self:peer:update", onAddresses);
  log.info("Exposing {target} as service {service}", { ...init });

  return await network.adopt({
    service: init.service,
    target: init.target,
    stats,
    async stop() {
      network.node.removeEventListener("self:peer:update", onAddresses);
      network.ledger.forget(SERVICES_BUCKET, init.service);
      targetDown.stop();
      await network.node.unhandle([SERVICE_ACK_PROTOCOL, SERVICE_PROTOCOL]).catch(() => {});
      for (const stream of open) stream.abort(new Error("service stopped"));
    },
  });
}

/**
 * Why a peer may not open service streams, or `undefined` when it may: like a Go node, only
 * peers in `users`; unlike one, only peers that proved they hold the token (anyone can write
 * an outsider's ID into `users`). Waits a little for both, as the first stream of a new
 * consumer often arrives with its `users` entry.
 */
async function admission(
  network: Network,
  peer: string,
  connection: Connection,
): Promise<string | undefined> {
  // The usual case, a known consumer: no wait, so no timer per stream.
  if (network.ledger.has(USERS_BUCKET, peer) && network.membership.isMember(peer)) {
    return undefined;
  }
  const signal = AbortSignal.timeout(ADMISSION_WAIT_MS);
  const [user, member] = await Promise.all([
    waitForUser(network, peer, signal),
    network.membership.waitForMember(peer, signal, connection),
  ]);
  if (!member) return "has not proved membership";
  if (!user) return "is not in the users bucket";
  return undefined;
}

/** Whether `peer` is (or within a short wait becomes) present in the `users` bucket. */
function waitForUser(network: Network, peer: string, signal: AbortSignal): Promise<boolean> {
  if (network.ledger.has(USERS_BUCKET, peer)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onChange = (): void => {
      if (network.ledger.has(USERS_BUCKET, peer)) finish(true);
    };
    const finish = (ok: boolean): void => {
      signal.removeEventListener("abort", onAbort);
      network.ledger.removeEventListener("change", onChange);
      resolve(ok);
    };
    const onAbort = (): void => finish(false);
    signal.addEventListener("abort", onAbort);
    network.ledger.addEventListener("change", onChange);
  });
}
