// Shared fixtures of the messaging tests: loopback-only nodes (127.0.0.1, no mDNS, no DHT,
// an explicit bootstrap list: never the public one). The helpers module comes first: it loads
// the Deno shims before libp2p.
import { NODE_TEST, waitFor } from "../_helpers/mod.ts";
import { createNode, type P2PNode, type P2PNodeOptions } from "../../src/messaging/mod.ts";
import type { NetworkToken } from "../../src/token/token.ts";

export { NODE_TEST, waitFor };

/** Options every test node shares. */
export const LOOPBACK = {
  listen: ["/ip4/127.0.0.1/tcp/0"],
  mdns: false,
  dht: false,
} as const;

type Extra = Omit<P2PNodeOptions, "token">;

/** The node's loopback multiaddr, with `/p2p/<id>`. */
export function loopbackAddr(node: P2PNode): string {
  const addr = node.addresses().find((a) => a.startsWith("/ip4/127.0.0.1/"));
  if (addr === undefined) throw new Error("the node has no loopback address");
  return addr;
}

/** Starts a seed node (no bootstrap peers). */
export async function startSeed(token: NetworkToken | string, extra: Extra = {}): Promise<P2PNode> {
  const node = createNode({ token, ...LOOPBACK, bootstrapPeers: [], ...extra });
  await node.start();
  return node;
}

/** Starts a node that bootstraps to `seed` and waits (bounded) until they are connected. */
export async function startJoined(
  token: NetworkToken | string,
  seed: P2PNode,
  extra: Extra = {},
): Promise<P2PNode> {
  const node = createNode({ token, ...LOOPBACK, bootstrapPeers: [loopbackAddr(seed)], ...extra });
  try {
    await node.start();
    await waitFor(() => node.connectedPeers().includes(seed.peerId), {
      timeoutMs: 5_000,
      message: "the new node to connect to its seed",
    });
  } catch (error) {
    await node.stop().catch(() => {});
    throw error;
  }
  return node;
}

/** Waits (bounded) until every node counts every other as a member (ledger heartbeats). */
export async function waitMembers(nodes: P2PNode[], timeoutMs = 8_000): Promise<void> {
  await waitFor(
    () => nodes.every((n) => nodes.every((m) => m === n || n.members().includes(m.peerId))),
    { timeoutMs, message: "every node to know every other as a member" },
  );
}

/** Stops every node given; never throws. */
export async function stopNodes(nodes: (P2PNode | undefined)[]): Promise<void> {
  await Promise.allSettled(nodes.map((n) => n?.stop()));
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
