// Who may open a service stream: only peers in the `users` bucket of the network's ledger.
import { withTimeout } from "../_helpers/mod.ts";
import assert from "node:assert/strict";
import type { Stream } from "@libp2p/interface";
import { exposeService } from "../../src/services/expose.ts";
import { TUNNEL_DIALER } from "../../src/services/tunnel.ts";
import { announceUser } from "../../src/services/users.ts";
import { USERS_BUCKET } from "../../src/services/constants.ts";
import { HEALTHCHECK_BUCKET } from "../../src/ledger/constants.ts";
import { generateTokenConfig } from "../../src/token/token.ts";
import type { Network } from "../../src/network/network.ts";
import {
  type Backend,
  type Cluster,
  greeter,
  NODE_TEST,
  startBackend,
  startCluster,
  startLoopbackNetwork,
  stopNetworks,
  untilEvent,
} from "./_fixtures.ts";

/** What came out of a service stream until it closed. */
interface Outcome {
  bytes: number;
  /** The close event's error: set when the stream was reset or aborted. */
  error: Error | undefined;
  ms: number;
}

/** Opens a raw `/edgevpn/service/0.1` stream, says hello, and records what happens. */
async function tryServiceStream(from: Network, to: Network, timeoutMs: number): Promise<Outcome> {
  const started = performance.now();
  const stream: Stream = await from.shared(TUNNEL_DIALER).openStream({
    peerId: to.peerId.toString(),
    multiaddrs: to.node.getMultiaddrs().map(String),
  });
  let bytes = 0;
  stream.addEventListener("message", (event) => void (bytes += event.data.byteLength));
  const closed = new Promise<Error | undefined>((resolve) => {
    stream.addEventListener(
      "close",
      (event) => resolve((event as Event & { error?: Error }).error),
      { once: true },
    );
  });
  stream.send(new TextEncoder().encode("hello\n"));
  try {
    const error = await withTimeout(closed, timeoutMs, "the service stream to close");
    return { bytes, error, ms: performance.now() - started };
  } finally {
    stream.abort(new Error("test done"));
  }
}

/** Opens a raw service stream and resolves with the first bytes the service sends. */
async function firstBytes(from: Network, to: Network): Promise<string> {
  const stream = await from.shared(TUNNEL_DIALER).openStream({ peerId: to.peerId.toString() });
  try {
    return await withTimeout(
      new Promise<string>((resolve, reject) => {
        stream.addEventListener("message", (event) => {
          const data = event.data instanceof Uint8Array ? event.data : event.data.subarray();
          resolve(new TextDecoder().decode(data));
        });
        stream.addEventListener("close", () => reject(new Error("stream closed")));
      }),
      10_000,
      "the service's greeting",
    );
  } finally {
    stream.abort(new Error("test done"));
  }
}

Deno.test({
  name: "expose refuses a service stream from a member that is not in users (reset, no byte)",
  ...NODE_TEST,
  async fn() {
    const backend: Backend = startBackend(greeter("the-service"));
    let cluster: Cluster | undefined;
    try {
      cluster = await startCluster(2);
      const [server, member] = cluster.networks as [Network, Network];
      await exposeService(server, { target: backend.address, service: "guarded" });
      assert.equal(server.ledger.has(USERS_BUCKET, member.peerId.toString()), false);

      // The member never announced itself: after the grace wait for its entry, a reset.
      const refused = await tryServiceStream(member, server, 10_000);
      console.log(`not in users: stream closed after ${refused.ms.toFixed(0)} ms`);
      assert.equal(refused.bytes, 0, "no byte from the backend");
      assert.ok(refused.error !== undefined, "the stream was reset, not closed cleanly");
      assert.equal(backend.accepted, 0, "the backend was never dialed");

      // Control: once it is in users, the same member gets the service.
      await announceUser(member);
      await untilEvent(
        server.ledger,
        "change",
        () => server.ledger.has(USERS_BUCKET, member.peerId.toString()),
        5_000,
        "the member's users entry on the server",
      );
      assert.equal(await firstBytes(member, server), "the-service\n");
      assert.equal(backend.accepted, 1);
    } finally {
      await cluster?.stop();
      await backend.close();
    }
  },
});

Deno.test({
  name: "expose refuses a service stream from a node with another token",
  ...NODE_TEST,
  async fn() {
    const backend: Backend = startBackend(greeter("the-service"));
    let cluster: Cluster | undefined;
    let outsider: Network | undefined;
    try {
      cluster = await startCluster(2);
      const [server] = cluster.networks as [Network, Network];
      await exposeService(server, { target: backend.address, service: "guarded" });
      // Same loopback seed, different token: it can reach the node, not the ledger.
      outsider = await startLoopbackNetwork(generateTokenConfig(), [cluster.seedAddr]);
      await announceUser(outsider); // into its own ledger, sealed with its own key

      const refused = await tryServiceStream(outsider, server, 10_000);
      console.log(`other token: stream closed after ${refused.ms.toFixed(0)} ms`);
      assert.equal(refused.bytes, 0, "no byte from the backend");
      assert.ok(refused.error !== undefined, "the stream was reset");
      assert.equal(backend.accepted, 0, "the backend was never dialed");
      const id = outsider.peerId.toString();
      assert.equal(server.ledger.has(USERS_BUCKET, id), false, "not in the server's users");
      assert.equal(server.ledger.has(HEALTHCHECK_BUCKET, id), false, "not in its ledger at all");
    } finally {
      await stopNetworks([outsider]);
      await cluster?.stop();
      await backend.close();
    }
  },
});
