import { getLogger } from "@logtape/logtape";
import type { Network } from "../ledger/network.ts";
import { SERVICES_BUCKET } from "./constants.ts";
import { asServiceRecord } from "./records.ts";
import type { TunnelStats } from "./stats.ts";
import { parseTarget } from "./target.ts";
import { TunnelListener } from "./tunnel.ts";
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
  readonly stats: TunnelStats;
  stop(): Promise<void>;
}

/**
 * Listens locally and tunnels each accepted connection to the peer serving `service`
 * (edgevpn `service-connect`). Announces this node in `users` so the server accepts it.
 * A connection made while the service is unknown waits up to `waitMs` for it to appear,
 * then is closed with a log line saying why.
 */
export async function connectService(
  network: Network,
  init: ConnectInit,
): Promise<ConnectedService> {
  const { hostname, port } = parseTarget(init.listen ?? "127.0.0.1:0", "--listen", "127.0.0.1");
  const waitMs = init.waitMs ?? 10_000;
  await announceUser(network);
  const listener = new TunnelListener(network.node, {
    hostname,
    port,
    label: `service ${init.service}`,
    resolve: async (signal) => {
      const record = await waitForService(network, init.service, waitMs, signal);
      if (record === undefined) {
        log.warning("Closed a connection: service {service} did not appear within {seconds} s", {
          service: init.service,
          seconds: waitMs / 1000,
        });
        return undefined;
      }
      return { peerId: record.PeerID };
    },
  });
  listener.start();
  log.info("Service {service} available on {address}", {
    service: init.service,
    address: listener.address,
  });
  return {
    address: listener.address,
    stats: listener.stats,
    stop: () => listener.stop(),
  };
}

function lookup(network: Network, service: string) {
  return asServiceRecord(network.ledger.get(SERVICES_BUCKET, service));
}

function waitForService(
  network: Network,
  service: string,
  waitMs: number,
  signal: AbortSignal,
): Promise<ReturnType<typeof lookup>> {
  const found = lookup(network, service);
  if (found !== undefined || waitMs <= 0) return Promise.resolve(found);
  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      network.ledger.removeEventListener("change", onChange);
      signal.removeEventListener("abort", finish);
      resolve(lookup(network, service));
    };
    const onChange = (): void => {
      if (lookup(network, service) !== undefined) finish();
    };
    const timer = setTimeout(finish, waitMs);
    network.ledger.addEventListener("change", onChange);
    signal.addEventListener("abort", finish);
  });
}
