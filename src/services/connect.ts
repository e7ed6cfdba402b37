import { getLogger } from "@logtape/logtape";
import type { Network } from "../network/network.ts";
import { SERVICES_BUCKET } from "./constants.ts";
import { asServiceRecord } from "./records.ts";
import { RepeatedWarning } from "./repeated_warning.ts";
import type { TunnelStats } from "./stats.ts";
import { TUNNEL_DIALER, type TunnelTarget } from "./tunnel.ts";
import { TunnelListener } from "./tunnel_listener.ts";
import { announceUser } from "./users.ts";

const log = getLogger(["p2p", "connect"]);

/** Options of {@linkcode connectService}. */
export interface ConnectInit {
  /** The service name in the `services` bucket. */
  service: string;
  /** Local `HOST:PORT`; port 0 picks a free one. @default {"127.0.0.1:0"} */
  listen?: string;
  /** How long a connection waits for an unknown service to appear, in ms. @default {10000} */
  waitMs?: number;
}

/** A local port tunnelling to a service: see {@linkcode connectService}. */
export interface ConnectedService {
  /** The bound local `host:port`. */
  readonly address: string;
  /** Counters of the connections tunnelled through this port. */
  readonly stats: TunnelStats;
  /** Closes the local port and every tunnelled connection. */
  stop(): Promise<void>;
}

/**
 * Listens locally and tunnels each accepted connection to the peer serving `service`
 * (edgevpn `service-connect`). Announces this node in `users` so the server accepts it.
 * A connection made while the service is unknown waits up to `waitMs` for it to appear,
 * then is closed with a log line saying why.
 *
 * @param network The running network.
 * @param init The service name and the local address.
 * @returns The bound local port; it stops with the network, or with its `stop()`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectService, exposeService, startNetwork } from "@p2p/p2p";
 * import { generateTokenConfig } from "../token/token.ts";
 *
 * const options = { token: generateTokenConfig(), listen: ["/ip4/127.0.0.1/tcp/0"], mdns: false };
 * const server = await startNetwork({ ...options, bootstrapPeers: [] });
 * const client = await startNetwork({
 *   ...options,
 *   bootstrapPeers: server.node.getMultiaddrs().map(String),
 * });
 * const backend = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * try {
 *   await exposeService(server, { target: `127.0.0.1:${backend.addr.port}`, service: "web" });
 *   const web = await connectService(client, { service: "web" });
 *   const [hostname, port] = web.address.split(":");
 *   const conn = await Deno.connect({ hostname: hostname!, port: Number(port) });
 *   const served = await backend.accept();
 *   await served.write(new TextEncoder().encode("hello"));
 *   served.close();
 *   assert.equal(await new Response(conn.readable).text(), "hello");
 *   await web.stop();
 *   assert.equal(web.stats.total, 1);
 * } finally {
 *   backend.close();
 *   await client.stop();
 *   await server.stop();
 * }
 * ```
 */
export async function connectService(
  network: Network,
  init: ConnectInit,
): Promise<ConnectedService> {
  const waitMs = init.waitMs ?? 10_000;
  const notFound = new RepeatedWarning(
    log,
    "Closed a connection: service {service} did not appear within {seconds} s",
  );
  const unproven = new RepeatedWarning(
    log,
    "Closed a connection: the peer serving {service} has not proved it holds the token",
  );
  const lookup = serviceLookup(network, init.service);
  const listener = new TunnelListener(network, {
    listen: init.listen ?? "127.0.0.1:0",
    label: `service ${init.service}`,
    resolve: async (signal) => {
      const target = await waitForService(network, lookup, waitMs, signal);
      if (target === undefined) {
        notFound.warn({ service: init.service, seconds: waitMs / 1000 });
        return undefined;
      }
      // Anyone can write any peer under a service name: only a member is worth a tunnel. The
      // usual case, a proven member: no wait, so no timer per connection.
      if (network.membership.isMember(target.peerId)) return target;
      const waited = AbortSignal.any([signal, AbortSignal.timeout(waitMs)]);
      // Connecting lets a p2p peer answer the membership challenge at once.
      const connection = await network.shared(TUNNEL_DIALER).dial(target, waited)
        .catch(() => undefined);
      if (!await network.membership.waitForMember(target.peerId, waited, connection)) {
        unproven.warn({ service: init.service });
        return undefined;
      }
      return target;
    },
  });
  listener.start(); // first: a bad or taken --listen fails before anything is announced
  try {
    await announceUser(network);
  } catch (err) {
    await listener.stop();
    throw err;
  }
  if (lookup() !== undefined) {
    log.info("Service {service} available on {address}", {
      service: init.service,
      address: listener.address,
    });
  } else {
    log.info("Listening on {address} for service {service}, not known yet", {
      service: init.service,
      address: listener.address,
    });
    void waitForService(network, lookup, waitMs, AbortSignal.timeout(waitMs))
      .then((target) => {
        if (target !== undefined) log.info("Service {service} found", { service: init.service });
      });
  }
  return await network.adopt({
    address: listener.address,
    stats: listener.stats,
    stop: () => {
      notFound.stop();
      unproven.stop();
      return listener.stop();
    },
  });
}

/**
 * Reads `service`'s target from the ledger as readers honour it: its peer and, when that peer
 * signed the entry, its addresses (a member this node knows only from gossip, two NATed nodes
 * behind one relay, is dialled there: nothing else may have told this node). Parsed again only
 * when the entry changed: `connect` resolves it for every client connection.
 */
function serviceLookup(network: Network, service: string): () => TunnelTarget | undefined {
  let seen: { value: unknown; signer: string | undefined } | undefined;
  let target: TunnelTarget | undefined;
  return () => {
    const entry = network.claims.get(SERVICES_BUCKET, service);
    if (entry === undefined) return undefined;
    if (seen !== undefined && seen.value === entry.value && seen.signer === entry.signer) {
      return target;
    }
    const record = asServiceRecord(entry.value);
    seen = { value: entry.value, signer: entry.signer };
    target = record === undefined ? undefined : {
      peerId: record.PeerID,
      ...(entry.signer === record.PeerID && record.Multiaddrs !== undefined
        ? { multiaddrs: record.Multiaddrs }
        : {}),
    };
    return target;
  };
}

function waitForService(
  network: Network,
  lookup: () => TunnelTarget | undefined,
  waitMs: number,
  signal: AbortSignal,
): Promise<TunnelTarget | undefined> {
  const found = lookup();
  if (found !== undefined || waitMs <= 0) return Promise.resolve(found);
  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      network.ledger.removeEventListener("change", onChange);
      signal.removeEventListener("abort", finish);
      resolve(lookup());
    };
    const onChange = (): void => {
      if (lookup() !== undefined) finish();
    };
    const timer = setTimeout(finish, waitMs);
    network.ledger.addEventListener("change", onChange);
    signal.addEventListener("abort", finish);
  });
}
