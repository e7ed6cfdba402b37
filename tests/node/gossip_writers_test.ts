// A connected peer keeps a gossipsub writer (see src/node/gossip_writers.ts): one that dies is
// reopened (with backoff), and one left on a peer's dead gossipsub instance is replaced. The
// rules on a stand-in of gossipsub's router, then a reset writer between two real nodes.
// Loopback only, in process.
import { NODE_TEST, startLibp2pPair, waitFor } from "../_helpers/mod.ts";
import assert from "node:assert/strict";
import type { GossipSub } from "@libp2p/gossipsub";
import type { Connection, PeerId } from "@libp2p/interface";
import { keepGossipWriters } from "../../src/node/gossip_writers.ts";
import { GOSSIP_WRITER_REOPENS, GOSSIP_WRITER_STABLE_MS } from "../../src/node/constants.ts";

const PEER = "peer-a";

interface Writer {
  closed: boolean;
  close(): Promise<void>;
}

function writer(): Writer {
  const w = {
    closed: false,
    close: () => {
      w.closed = true;
      return Promise.resolve();
    },
  };
  return w;
}

/** gossipsub's router as far as the module reads it, with a hand-run scheduler and clock. */
function standIn() {
  const peerId = { toString: () => PEER } as unknown as PeerId;
  const reads = new Map<unknown, () => void>();
  const router = {
    started: true,
    peers: new Map<string, PeerId>([[PEER, peerId]]),
    streamsOutbound: new Map<string, Writer>(),
    streamsInbound: new Map<string, unknown>(),
    opened: [] as string[],
    outboundInflightQueue: {
      push: ({ peerId }: { peerId: PeerId }) => router.opened.push(peerId.toString()),
    },
    // A reader's pipe ends when the test says so.
    pipePeerReadStream: (_peer: PeerId, source: unknown) =>
      new Promise<void>((resolve) => reads.set(source, resolve)),
    isStarted: () => router.started,
    stop: () => {
      router.started = false;
      return Promise.resolve();
    },
  };
  const pending: { run: () => void; delayMs: number; cancelled: boolean }[] = [];
  let clock = 0;
  const connection = { status: "open", limits: undefined } as unknown as Connection;
  const connections: Connection[] = [connection];
  keepGossipWriters(router as unknown as GossipSub, {
    connections: () => connections,
    now: () => clock,
    random: () => 0,
    schedule: (run, delayMs) => {
      const entry = { run, delayMs, cancelled: false };
      pending.push(entry);
      return () => (entry.cancelled = true);
    },
  });
  return {
    router,
    peerId,
    connections,
    advance: (ms: number) => (clock += ms),
    /** Delays of the reopens scheduled since the last call, each run (unless cancelled). */
    runScheduled(): number[] {
      const due = pending.splice(0).filter((e) => !e.cancelled);
      for (const e of due) e.run();
      return due.map((e) => e.delayMs);
    },
    /** A reader from the peer, registered as gossipsub does; returns its end. */
    read(): () => Promise<void> {
      const source = {};
      router.streamsInbound.set(PEER, source);
      const piping = router.pipePeerReadStream(peerId, source);
      return async () => {
        reads.get(source)!();
        await piping;
      };
    },
  };
}

Deno.test("gossip writers: a writer closed while connected reopens at once, then with backoff, six times in a row at most", () => {
  const s = standIn();
  const delays: number[] = [];
  for (let i = 0; i <= GOSSIP_WRITER_REOPENS; i++) {
    s.router.streamsOutbound.set(PEER, writer());
    s.router.streamsOutbound.delete(PEER); // gossipsub's close handler
    delays.push(...s.runScheduled());
  }
  // 0, then half of 100 · 2^k (the jitter at its lowest).
  assert.deepEqual(delays, [0, 50, 100, 200, 400, 800]);
  assert.equal(s.router.opened.length, GOSSIP_WRITER_REOPENS);

  // A writer that stayed open a while had worked: the count starts afresh.
  s.router.streamsOutbound.set(PEER, writer());
  s.advance(GOSSIP_WRITER_STABLE_MS);
  s.router.streamsOutbound.delete(PEER);
  assert.deepEqual(s.runScheduled(), [0]);
});

Deno.test("gossip writers: no reopen for a disconnected peer, on a closed connection, or after stop", async () => {
  const s = standIn();
  s.router.streamsOutbound.set(PEER, writer());
  s.connections.splice(0); // the connection is gone, the router not told yet
  s.router.streamsOutbound.delete(PEER);
  assert.deepEqual(s.runScheduled(), []);

  s.connections.push({ status: "open", limits: undefined } as unknown as Connection);
  s.router.streamsOutbound.set(PEER, writer());
  s.router.peers.delete(PEER); // gossipsub's removePeer, then its streams
  s.router.streamsOutbound.delete(PEER);
  assert.deepEqual(s.runScheduled(), []);

  s.router.peers.set(PEER, s.peerId);
  s.router.streamsOutbound.set(PEER, writer());
  s.router.streamsOutbound.delete(PEER);
  await s.router.stop();
  assert.deepEqual(s.runScheduled(), [], "the pending reopen was cancelled");
  assert.deepEqual(s.router.opened, []);
});

Deno.test("gossip writers: the peer's writer ending with no successor replaces this node's, the new one first", async () => {
  const s = standIn();
  const old = writer();
  s.router.streamsOutbound.set(PEER, old);
  const end = s.read();
  await end(); // an edgevpn peer's gossipsub instance closed at a key rotation
  assert.equal(s.router.streamsOutbound.has(PEER), false, "the old writer is out of the map");
  assert.deepEqual(s.runScheduled(), [0]);
  assert.deepEqual(s.router.opened, [PEER], "a new writer is opened");
  assert.equal(old.closed, false, "the old one stays until the new one is open");
  s.router.streamsOutbound.set(PEER, writer());
  assert.equal(old.closed, true);
});

Deno.test("gossip writers: a reader replaced by a newer one changes nothing", async () => {
  const s = standIn();
  const current = writer();
  s.router.streamsOutbound.set(PEER, current);
  const endFirst = s.read();
  s.read(); // the peer opened a new writer before closing the old (js gossipsub, this module)
  await endFirst();
  assert.deepEqual(s.runScheduled(), []);
  assert.equal(s.router.streamsOutbound.get(PEER), current);
  assert.equal(current.closed, false);
});

interface OutboundStreams {
  streamsOutbound: Map<string, { rawStream: { abort(err: Error): void } }>;
}

Deno.test({
  name:
    "gossip writers: after a node's writer to a peer is reset, its publishes reach the peer again",
  ...NODE_TEST,
  async fn() {
    const pair = await startLibp2pPair();
    const [a, b] = [pair.client, pair.server];
    const topic = "writers-test";
    const heard: string[] = [];
    try {
      b.services.pubsub.addEventListener("message", (event) => {
        if (event.detail.topic === topic) heard.push(new TextDecoder().decode(event.detail.data));
      });
      a.services.pubsub.subscribe(topic);
      b.services.pubsub.subscribe(topic);
      await a.dial(b.getMultiaddrs()[0]!);
      // One more message per poll; true once any of this phase's has arrived.
      const publish = async (phase: string): Promise<boolean> => {
        const text = `${phase} ${heard.length}`;
        await a.services.pubsub.publish(topic, new TextEncoder().encode(text)).catch(() => {});
        return heard.some((h) => h.startsWith(phase));
      };
      await waitFor(() => publish("before"), {
        timeoutMs: 20_000,
        message: "a publish reaching the peer",
      });
      const streams = (a.services.pubsub as unknown as OutboundStreams).streamsOutbound;
      const reset = streams.get(b.peerId.toString())!;
      reset.rawStream.abort(new Error("reset by the test"));
      await waitFor(() => publish("after"), {
        timeoutMs: 20_000,
        message: "a publish reaching the peer after the reset",
      });
      const now = streams.get(b.peerId.toString());
      assert.ok(now !== undefined && now !== reset, "a new writer");
    } finally {
      await pair.stop();
    }
  },
});
