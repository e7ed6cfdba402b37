// A peer that answers slowly still gets its dial: libp2p bounds the dial of one address
// (1.5 s here, for addresses a firewall drops), and a busy peer's noise and yamux handshake, or
// one across a relay between far places, can take longer. Loopback only, in process: a TCP
// relay delays every chunk one side sends.
import { loopbackNodeOptions, NODE_TEST, startLibp2pPair, waitFor } from "../_helpers/mod.ts";
import assert from "node:assert/strict";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2pNode, type NodeOptions, type P2PLibp2p } from "../../src/node/create_node.ts";
import { generateTokenConfig } from "../../src/token/token.ts";
import { closeQuietly, writeAll } from "../_helpers/tcp.ts";

/** A relay to 127.0.0.1:`port` that holds each chunk coming back for `delayMs`. */
function slowRelay(port: number, delayMs: number): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const pipe = async (from: Deno.Conn, to: Deno.Conn, delay: number) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (let n = await from.read(buffer); n !== null; n = await from.read(buffer)) {
        const chunk = buffer.slice(0, n);
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
        await writeAll(to, chunk);
      }
    } catch {
      // closed
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  };
  (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(client, server);
      void pipe(client, server, 0);
      void pipe(server, client, delayMs);
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close: () => {
      listener.close();
      for (const conn of conns) closeQuietly(conn);
    },
  };
}

Deno.test({
  name:
    "dial bounds: a TCP dial to a peer whose handshake takes 2 s (over 1.5 s per address) connects",
  ...NODE_TEST,
  async fn() {
    const pair = await startLibp2pPair();
    const [dialer, listener] = [pair.client, pair.server];
    const port = Number(listener.getMultiaddrs()[0]!.toString().split("/")[4]);
    const relay = slowRelay(port, 1_000);
    try {
      const started = performance.now();
      const connection = await dialer.dial(
        multiaddr(`/ip4/127.0.0.1/tcp/${relay.port}/p2p/${listener.peerId}`),
        { signal: AbortSignal.timeout(10_000) },
      );
      const tookMs = performance.now() - started;
      assert.equal(connection.remotePeer.toString(), listener.peerId.toString());
      // The relay held the listener's handshake messages for 1 s each: the dial outlived the
      // per-address bound, so it is this handshake that was tested.
      assert.ok(tookMs > 1_500, `the handshake took ${Math.round(tookMs)} ms`);
    } finally {
      relay.close();
      await pair.stop();
    }
  },
});

function portOf(node: P2PLibp2p): number {
  return Number(node.getMultiaddrs()[0]!.toString().split("/")[4]);
}

/**
 * A relay, a target reserved on it through a link that holds what the relay sends for
 * `delayMs`, and a dialer (not connected to anything); runs `fn`, then stops them all.
 */
async function withSlowRelayedTarget(
  delayMs: number,
  fn: (lab: { relay: P2PLibp2p; dialer: P2PLibp2p; circuit: string }) => Promise<void>,
): Promise<void> {
  const token = generateTokenConfig();
  const nodes: P2PLibp2p[] = [];
  const start = async (options: NodeOptions) => {
    const node = await createLibp2pNode(options);
    nodes.push(node);
    await node.start();
    return node;
  };
  let slowLink: { close(): void } | undefined;
  try {
    const relay = await start(loopbackNodeOptions(token));
    const link = slowRelay(portOf(relay), delayMs);
    slowLink = link;
    const target = await start(loopbackNodeOptions(token, {
      relayService: false,
      relayPeers: [`/ip4/127.0.0.1/tcp/${link.port}/p2p/${relay.peerId}`],
    }));
    const circuit = await waitFor(
      () => target.getMultiaddrs().map(String).find((a) => a.includes("/p2p-circuit")),
      { timeoutMs: 20_000, message: "the target's relayed address" },
    );
    const dialer = await start(loopbackNodeOptions(token, { relayService: false }));
    await fn({ relay, dialer, circuit });
    const connection = dialer.getConnections(target.peerId)[0];
    assert.ok(connection?.remoteAddr.toString().includes("/p2p-circuit"), "a relayed connection");
  } finally {
    for (const node of nodes.reverse()) await node.stop();
    slowLink?.close();
  }
}

Deno.test({
  name:
    "dial bounds: a relayed dial whose circuit takes 500 ms per message to the target connects (over 1.5 s in all)",
  ...NODE_TEST,
  fn: () =>
    // 500 ms: the circuit's set-up crosses the slow link four times (a stream's opening and
    // its protocol answer share a noise message); 300 ms made it 1.2 s, under the bound tested.
    withSlowRelayedTarget(500, async ({ relay, dialer, circuit }) => {
      await dialer.dial(relay.getMultiaddrs()[0]!); // the dialer's own link is fast
      const started = performance.now();
      await dialer.dial(multiaddr(circuit), { signal: AbortSignal.timeout(10_000) });
      const tookMs = performance.now() - started;
      assert.ok(tookMs > 1_500, `the relayed dial took ${Math.round(tookMs)} ms`);
    }),
});

Deno.test({
  name:
    "dial bounds: a relayed dial through a relay not yet connected, both links 300 ms per message, connects",
  ...NODE_TEST,
  fn: () =>
    withSlowRelayedTarget(300, async ({ relay, dialer, circuit }) => {
      // The dialer knows the relay by a slow link of its own only, and is not connected to it.
      const dialerLink = slowRelay(portOf(relay), 300);
      try {
        const slowCircuit = circuit.replace(
          /^\/ip4\/127\.0\.0\.1\/tcp\/\d+/,
          `/ip4/127.0.0.1/tcp/${dialerLink.port}`,
        );
        const started = performance.now();
        await dialer.dial(multiaddr(slowCircuit), { signal: AbortSignal.timeout(15_000) });
        console.log(
          `relayed dial through a new relay connection: ${
            Math.round(performance.now() - started)
          } ms`,
        );
      } finally {
        dialerLink.close();
      }
    }),
});
