// In-process networks on loopback, for the fast suite (see NODE_TEST for the sanitizers).
import { type Network, startNetwork } from "../../src/network/network.ts";
import { HEALTHCHECK_BUCKET } from "../../src/ledger/constants.ts";
import { generateTokenConfig, type NetworkToken } from "../../src/token/token.ts";
import { createLibp2pNode, type NodeOptions, type P2PLibp2p } from "../../src/node/create_node.ts";
import { untilEvent } from "./wait.ts";

/** Every test node listens here only. */
export const LOOPBACK_LISTEN = ["/ip4/127.0.0.1/tcp/0"];

/** Options of an in-process node on loopback: no mDNS, no DHT, no bootstrap peers. */
export function loopbackNodeOptions(
  token: NetworkToken,
  extra: Partial<NodeOptions> = {},
): NodeOptions {
  return { token, listen: LOOPBACK_LISTEN, bootstrapPeers: [], mdns: false, dht: false, ...extra };
}

/** The node's loopback multiaddr, with `/p2p/<id>`. */
export function loopbackAddr(network: Network): string {
  const addr = network.node.getMultiaddrs().map(String).find((a) =>
    a.startsWith("/ip4/127.0.0.1/")
  );
  if (addr === undefined) throw new Error("the node has no loopback address");
  return addr.includes("/p2p/") ? addr : `${addr}/p2p/${network.peerId}`;
}

/**
 * Starts one in-process node on loopback: mDNS off, and either a seed (`bootstrap` empty)
 * or a node bootstrapping to the given loopback addresses only (never the public list).
 */
export function startLoopbackNetwork(
  token: NetworkToken,
  bootstrap: string[] = [],
): Promise<Network> {
  return startNetwork({
    token,
    listen: LOOPBACK_LISTEN,
    bootstrapPeers: bootstrap,
    mdns: false,
  });
}

/** Stops every network given; never throws. */
export async function stopNetworks(networks: (Network | undefined)[]): Promise<void> {
  await Promise.allSettled(networks.map((n) => n?.stop()));
}

/** Waits until every ledger holds the heartbeat of every node: gossip flows both ways. */
export async function ledgersConverged(networks: Network[], timeoutMs = 10_000): Promise<void> {
  const ids = networks.map((n) => n.peerId.toString());
  await Promise.all(networks.map((n) =>
    untilEvent(
      n.ledger,
      "change",
      () => ids.every((id) => n.ledger.has(HEALTHCHECK_BUCKET, id)),
      timeoutMs,
      `heartbeats of ${ids.length} nodes in the ledger of ${n.peerId}`,
    )
  ));
}

/** Two started libp2p nodes of one network on loopback, without discovery. */
export interface Libp2pPair {
  server: P2PLibp2p;
  client: P2PLibp2p;
  /** Stops both. */
  stop(): Promise<void>;
}

/**
 * Starts a {@linkcode Libp2pPair}; `extra` adds node options (a tuning, the DHT off) to both,
 * `clientExtra` to the client only (another network's token).
 */
export async function startLibp2pPair(
  extra: Partial<NodeOptions> = {},
  clientExtra: Partial<NodeOptions> = {},
): Promise<Libp2pPair> {
  const options = loopbackNodeOptions(generateTokenConfig(), { dht: true, ...extra });
  const server = await createLibp2pNode(options);
  const client = await createLibp2pNode({ ...options, ...clientExtra });
  await server.start();
  await client.start();
  return {
    server,
    client,
    stop: async () => {
      await client.stop();
      await server.stop();
    },
  };
}
