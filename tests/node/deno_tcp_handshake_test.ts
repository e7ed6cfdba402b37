// A peer that answers slowly still gets its handshake: libp2p bounds the dial of one address
// (1.5 s here, for addresses a firewall drops), and a busy peer's noise and yamux handshake can
// take longer. Loopback only, in process: a relay delays every chunk the listener sends.
import { NODE_TEST, startLibp2pPair } from "../_helpers/mod.ts";
import assert from "node:assert/strict";
import { multiaddr } from "@multiformats/multiaddr";
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
  name: "denoTcp: a dial to a peer whose handshake takes 2 s (over 1.5 s per address) connects",
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
