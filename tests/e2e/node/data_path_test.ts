// The data-path choices (src/node/tuning.ts) stay wire-compatible with stock libp2p: the Deno
// TCP transport against @libp2p/tcp, the Deno-tuned noise cipher switch and the host's OpenSSL
// against the stock one, the go-yamux window-update rule against stock yamux (across processes: it is a
// process-wide patch), plus the peer store merge cache and the service protocol memory.
import {
  loopbackFlags,
  NODE_TEST,
  spawnNode,
  stopAll,
  waitFor,
  withTimeout,
} from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { Stream } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2pNode, type P2PLibp2p } from "../../../src/node/create_node.ts";
import { parseTuning, type Tuning } from "../../../src/node/tuning.ts";
import { generateToken, generateTokenConfig } from "../../../src/token/token.ts";
import {
  ACK_CONNECTED,
  ACK_TARGET_UNREACHABLE,
  SERVICE_ACK_PROTOCOL,
  SERVICE_PROTOCOL,
} from "../../../src/services/constants.ts";
import { TargetUnavailableError, TunnelDialer } from "../../../src/services/tunnel.ts";

const MiB = 1024 * 1024;
const PIPE = "/p2p-test/pipe/1.0.0";

async function startNode(tuning: Partial<Tuning>, token = generateTokenConfig()) {
  const node = await createLibp2pNode({
    token,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    bootstrapPeers: [],
    mdns: false,
    dht: false,
    tuning,
  });
  return node;
}

function loopback(node: P2PLibp2p): string {
  const addr = node.getMultiaddrs().map(String).find((a) => a.startsWith("/ip4/127.0.0.1/"));
  assert.ok(addr !== undefined, "a loopback address");
  return addr;
}

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const decode = (data: Uint8Array): string => new TextDecoder().decode(data);

/** Where a tunnel to `node` leads: its ID and its loopback address. */
function tunnelTarget(node: P2PLibp2p): { peerId: string; multiaddrs: string[] } {
  return { peerId: node.peerId.toString(), multiaddrs: [loopback(node)] };
}

/** Deterministic bytes: chunk `i` of a transfer. */
function chunk(i: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let j = 0; j < size; j += 4096) out[j] = (i * 31 + j) & 0xff;
  out[size - 1] = i & 0xff;
  return out;
}

/** Serves PIPE on `node`: hashes what arrives and, after the remote half-close, answers it. */
async function serveHasher(node: P2PLibp2p): Promise<void> {
  await node.handle(PIPE, (stream: Stream) => {
    const hash = createHash("sha256");
    let bytes = 0;
    stream.addEventListener("message", (event) => {
      for (const part of event.data instanceof Uint8Array ? [event.data] : event.data) {
        hash.update(part);
        bytes += part.byteLength;
      }
    });
    stream.addEventListener("remoteCloseWrite", () => {
      stream.send(encode(`${bytes} ${hash.digest("hex")}`));
      void stream.close();
    });
  });
}

/** Sends `total` bytes (odd-sized chunks, with backpressure), half-closes, reads the answer. */
async function pipeThrough(from: P2PLibp2p, to: P2PLibp2p, total: number): Promise<void> {
  const stream = await from.dialProtocol(multiaddr(loopback(to)), PIPE);
  const answer = new Promise<string>((resolve, reject) => {
    let text = "";
    stream.addEventListener("message", (event) => {
      text += decode(event.data.subarray());
    });
    stream.addEventListener("end", () => resolve(text));
    stream.addEventListener("close", (event) => {
      if (event.error !== undefined) reject(event.error);
    });
  });
  const hash = createHash("sha256");
  let sent = 0;
  for (let i = 0; sent < total; i++) {
    // Sizes around the noise (65519) and yamux (12-byte header) boundaries, and tiny ones.
    const size = Math.min(total - sent, [65507, 65536, 1, 131026, 300, 200_000][i % 6]!);
    const buf = chunk(i, size);
    hash.update(buf);
    sent += size;
    if (!stream.send(buf)) {
      await new Promise<void>((r) => stream.addEventListener("drain", () => r(), { once: true }));
    }
  }
  await stream.close();
  const text = await withTimeout(answer, 30_000, "the hasher's answer");
  assert.equal(text, `${total} ${hash.digest("hex")}`);
}

Deno.test("parseTuning: the fast defaults, stock choices by name, unknown input ignored", () => {
  assert.deepEqual(parseTuning(undefined), {
    tcp: "deno",
    yamux: "half",
    noise: "openssl",
    framing: "lean",
    peerStore: "cached",
    logger: "quiet",
    events: "fast",
    heap: "trim",
    select: "eager",
    buffers: "reused",
    slabs: "reused",
    reads: "aligned",
  });
  assert.deepEqual(
    parseTuning(
      "tcp:node, yamux:stock,noise:stock,framing:stock,peerStore:stock,logger:stock,events:stock,heap:stock,select:stock,buffers:stock,slabs:stock,reads:stock",
    ),
    {
      tcp: "node",
      yamux: "stock",
      noise: "stock",
      framing: "stock",
      peerStore: "stock",
      logger: "stock",
      events: "stock",
      heap: "stock",
      select: "stock",
      buffers: "stock",
      slabs: "stock",
      reads: "stock",
    },
  );
  assert.deepEqual(parseTuning("tcp:quic,bogus,noise:node,:"), {
    tcp: "deno",
    yamux: "half",
    noise: "node",
    framing: "lean",
    peerStore: "cached",
    logger: "quiet",
    events: "fast",
    heap: "trim",
    select: "eager",
    buffers: "reused",
    slabs: "reused",
    reads: "aligned",
  });
});

for (
  const [a, b] of [
    // Every default choice against every stock one, each way; the ciphers across each other.
    [{ tcp: "deno", noise: "deno", framing: "lean" }, {
      tcp: "node",
      noise: "stock",
      framing: "stock",
    }],
    [{ tcp: "node", noise: "stock", framing: "stock" }, {
      tcp: "deno",
      noise: "deno",
      framing: "lean",
    }],
    [{ tcp: "deno", noise: "node", framing: "lean" }, {
      tcp: "deno",
      noise: "openssl",
      framing: "lean",
    }],
    [{ tcp: "deno", noise: "openssl", framing: "lean" }, {
      tcp: "node",
      noise: "stock",
      framing: "stock",
    }],
    [{ tcp: "deno", noise: "openssl", framing: "stock" }, {
      tcp: "deno",
      noise: "openssl",
      framing: "lean",
    }],
  ] as const
) {
  const describe = (t: typeof a | typeof b): string => `tcp:${t.tcp}/noise:${t.noise}/${t.framing}`;
  Deno.test({
    name: `data path: ${describe(a)} → ${describe(b)} carries 24 MiB byte-exact, both ways, ` +
      `with half-close`,
    ...NODE_TEST,
    async fn() {
      const nodes = [await startNode(a), await startNode(b)] as const;
      try {
        await Promise.all(nodes.map((n) => n.start()));
        await Promise.all(nodes.map(serveHasher));
        await pipeThrough(nodes[0], nodes[1], 24 * MiB);
        await pipeThrough(nodes[1], nodes[0], 24 * MiB);
        // Many short streams at once over the one connection (small frames, FIN, window).
        await Promise.all(
          Array.from({ length: 64 }, (_, i) => pipeThrough(nodes[i % 2]!, nodes[1 - i % 2]!, 777)),
        );
      } finally {
        await Promise.all(nodes.map((n) => n.stop()));
      }
    },
  });
}

Deno.test({
  name: "data path: a Deno TCP listener counts an inbound connection's remote address as IPv4",
  ...NODE_TEST,
  async fn() {
    const nodes = [await startNode({ tcp: "deno" }), await startNode({ tcp: "node" })] as const;
    try {
      await Promise.all(nodes.map((n) => n.start()));
      await nodes[1].dial(multiaddr(loopback(nodes[0])));
      const inbound = await waitFor(() => nodes[0].getConnections(nodes[1].peerId)[0], {
        timeoutMs: 5_000,
        message: "the inbound connection",
      });
      assert.match(inbound.remoteAddr.toString(), /^\/ip4\/127\.0\.0\.1\/tcp\/\d+/);
      assert.equal(inbound.direction, "inbound");
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test({
  name: "data path: the peer store records a stream's protocol once, then skips no-op merges",
  ...NODE_TEST,
  async fn() {
    const nodes = [await startNode({}), await startNode({})] as const;
    try {
      await Promise.all(nodes.map((n) => n.start()));
      await serveHasher(nodes[1]);
      await pipeThrough(nodes[0], nodes[1], 1000);
      const peer = await nodes[0].peerStore.get(nodes[1].peerId);
      assert.ok(peer.protocols.includes(PIPE), "the protocol is recorded");
      // A later no-op merge answers from the cache; a real change still goes through.
      const same = await nodes[0].peerStore.merge(nodes[1].peerId, { protocols: [PIPE] });
      assert.ok(same.protocols.includes(PIPE));
      await nodes[0].peerStore.merge(nodes[1].peerId, { protocols: ["/p2p-test/other/1"] });
      const after = await nodes[0].peerStore.get(nodes[1].peerId);
      assert.ok(after.protocols.includes("/p2p-test/other/1"));
      assert.ok(after.protocols.includes(PIPE));
      // A patch that drops the protocol is seen (peer:update): the next merge restores it.
      await nodes[0].peerStore.patch(nodes[1].peerId, { protocols: [] });
      await nodes[0].peerStore.merge(nodes[1].peerId, { protocols: [PIPE] });
      assert.ok((await nodes[0].peerStore.get(nodes[1].peerId)).protocols.includes(PIPE));
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

/** Two started nodes and a tunnel dialer on the first, all stopped after `use`. */
async function withDialer(
  use: (nodes: readonly [P2PLibp2p, P2PLibp2p], dialer: TunnelDialer) => Promise<void>,
): Promise<void> {
  const nodes = [await startNode({}), await startNode({})] as const;
  const dialer = new TunnelDialer(nodes[0]);
  try {
    await Promise.all(nodes.map((n) => n.start()));
    await use(nodes, dialer);
  } finally {
    dialer.stop();
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

Deno.test({
  name: "data path: a peer that only speaks /edgevpn/service/0.1 is offered only that next time",
  ...NODE_TEST,
  fn: () =>
    withDialer(async (nodes, dialer) => {
      // A Go-like serving peer: the edgevpn protocol only, no confirmation byte; it answers
      // each request with "hi <request>".
      await nodes[1].handle(SERVICE_PROTOCOL, (stream: Stream) => {
        stream.addEventListener("message", (event) => {
          stream.send(
            encode(`hi ${decode(event.data.subarray())}`),
          );
          void stream.close();
        }, { once: true });
      });
      const target = tunnelTarget(nodes[1]);
      const connection = await dialer.dial(target);
      const both = [SERVICE_ACK_PROTOCOL, SERVICE_PROTOCOL];
      assert.deepEqual(dialer.protocolsFor(connection), both);
      // Both streams carry a request and its answer, the second one offered the edgevpn
      // protocol only.
      for (const request of ["first", "second"]) {
        const { stream, early } = await dialer.openConfirmed(target);
        assert.equal(stream.protocol, SERVICE_PROTOCOL);
        assert.equal(early, undefined);
        stream.send(encode(request));
        let answer = "";
        for await (const chunk of stream) answer += decode(chunk.subarray());
        assert.equal(answer, `hi ${request}`);
        assert.deepEqual(dialer.protocolsFor(connection), [SERVICE_PROTOCOL]);
      }
      // A new connection negotiates afresh: the peer may have come back as another build.
      await nodes[0].hangUp(nodes[1].peerId);
      assert.deepEqual(dialer.protocolsFor(await dialer.dial(target)), both);
    }),
});

Deno.test({
  name: "data path: a worker that resets a confirmed stream at once is reported at once",
  ...NODE_TEST,
  fn: () =>
    withDialer(async (nodes, dialer) => {
      // The reset follows the protocol answer in the same turn, so both reach the dialer in
      // one read: the stream is reset before the dialer waits for the confirmation.
      await nodes[1].handle(SERVICE_ACK_PROTOCOL, (stream: Stream) => {
        stream.abort(new Error("refused"));
      });
      const target = tunnelTarget(nodes[1]);
      await dialer.dial(target);
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        await assert.rejects(
          dialer.openConfirmed(target, AbortSignal.timeout(10_000)),
          TargetUnavailableError,
        );
        console.log(
          `refusal ${i + 1} reported after ${(performance.now() - started).toFixed(1)} ms`,
        );
      }
    }),
});

Deno.test({
  name:
    "data path: a peer that confirmed once is asked lazily; one that stops confirming is offered both again",
  ...NODE_TEST,
  fn: () =>
    withDialer(async (nodes, dialer) => {
      // A confirming worker: the confirmation with early target bytes, then "hi <request>".
      await nodes[1].handle(SERVICE_ACK_PROTOCOL, (stream: Stream) => {
        stream.send(Uint8Array.of(ACK_CONNECTED, ...encode("ready")));
        stream.addEventListener("message", (event) => {
          stream.send(encode(`hi ${decode(event.data.subarray())}`));
          void stream.close();
        }, { once: true });
      });
      // A Go-like one behind the edgevpn protocol: it answers a request, unconfirmed.
      await nodes[1].handle(SERVICE_PROTOCOL, (stream: Stream) => {
        stream.addEventListener("message", () => {
          stream.send(encode("plain"));
          void stream.close();
        }, { once: true });
      });
      const target = tunnelTarget(nodes[1]);
      const exchange = async (request: string): Promise<void> => {
        const { stream, early } = await dialer.openConfirmed(target, AbortSignal.timeout(10_000));
        assert.equal(stream.protocol, SERVICE_ACK_PROTOCOL);
        assert.equal(decode(early!), "ready", "the early bytes, without the protocol answer");
        stream.send(encode(request));
        let answer = "";
        for await (const chunk of stream) answer += decode(chunk.subarray());
        assert.equal(answer, `hi ${request}`);
      };
      // Counts the service streams opened with a full multistream negotiation (a round trip).
      const connection = await dialer.dial(target);
      let negotiated = 0;
      const newStream = connection.newStream.bind(connection);
      connection.newStream = (...args: Parameters<typeof newStream>) => {
        // (gossipsub and identify open theirs on the same connection)
        if ([args[0]].flat().includes(SERVICE_PROTOCOL)) negotiated++;
        return newStream(...args);
      };
      // The first negotiates; the rest go lazily, one after another and 16 at once.
      for (let i = 0; i < 4; i++) {
        await withTimeout(exchange(`sequential ${i}`), 10_000, "exchange");
      }
      await withTimeout(
        Promise.all(Array.from({ length: 16 }, (_, i) => exchange(`concurrent ${i}`))),
        20_000,
        "16 exchanges",
      );
      assert.equal(negotiated, 1, "only the first stream negotiated");
      // The peer stops confirming on the same connection: the lazy proposal is refused, and
      // the dialer offers both protocols again instead of failing the client.
      await nodes[1].unhandle(SERVICE_ACK_PROTOCOL);
      const { stream, early } = await dialer.openConfirmed(target, AbortSignal.timeout(10_000));
      assert.equal(stream.protocol, SERVICE_PROTOCOL);
      assert.equal(early, undefined);
      assert.equal(negotiated, 2);
      stream.send(encode("request"));
      const read = async (): Promise<string> => {
        let answer = "";
        for await (const chunk of stream) answer += decode(chunk.subarray());
        return answer;
      };
      assert.equal(await withTimeout(read(), 10_000, "the plain answer"), "plain");
    }),
});

Deno.test({
  name:
    "data path: a lazy confirmed stream carries the client's first bytes before the confirmation; a refusal after them reports the target",
  ...NODE_TEST,
  fn: () =>
    withDialer(async (nodes, dialer) => {
      // A worker that confirms only once it has the request (it answers "got <request>"),
      // and cannot reach its target for "unreachable".
      await nodes[1].handle(SERVICE_ACK_PROTOCOL, (stream: Stream) => {
        stream.addEventListener("message", (event) => {
          const request = decode(event.data.subarray());
          if (request === "unreachable") {
            stream.send(Uint8Array.of(ACK_TARGET_UNREACHABLE));
          } else stream.send(Uint8Array.of(ACK_CONNECTED, ...encode(`got ${request}`)));
          void stream.close();
        }, { once: true });
      });
      const target = tunnelTarget(nodes[1]);
      const open = (request: string) =>
        dialer.openConfirmed(target, AbortSignal.timeout(10_000), [encode(request)]);
      // The first stream negotiates: nothing goes before the confirmation (it would wait
      // forever here), so the caller is told to send its bytes itself.
      const first = dialer.openConfirmed(target, AbortSignal.timeout(1_000), [encode("x")]);
      await assert.rejects(first, (err: Error) => err.name === "TimeoutError");
      // Now the peer is known to confirm: its streams go lazily, the request with them.
      for (let i = 0; i < 3; i++) {
        const { early, sentAhead } = await open(`request ${i}`);
        assert.equal(sentAhead, true);
        assert.equal(decode(early!), `got request ${i}`);
      }
      await assert.rejects(open("unreachable"), TargetUnavailableError);
    }),
});

/** A TCP echo backend; resolves its port. */
function echoBackend(): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  void (async () => {
    for await (const conn of listener) {
      void (async () => {
        const buf = new Uint8Array(65536);
        try {
          while (true) {
            const n = await conn.read(buf);
            if (n === null) break;
            for (let o = 0; o < n;) o += await conn.write(buf.subarray(o, n));
          }
          await conn.closeWrite();
        } catch {
          // client gone
        } finally {
          try {
            conn.close();
          } catch {
            // closed
          }
        }
      })();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close: () => listener.close(),
  };
}

/** Writes `total` bytes through `port` and checks the echo byte for byte (sha256). */
async function echoThrough(port: number, total: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const sent = createHash("sha256");
    const got = createHash("sha256");
    let received = 0;
    const reader = (async () => {
      const buf = new Uint8Array(65536);
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        got.update(buf.subarray(0, n));
        received += n;
      }
    })();
    let written = 0;
    for (let i = 0; written < total; i++) {
      const size = Math.min(total - written, 50_000 + (i % 7) * 10_000);
      const buf = chunk(i, size);
      sent.update(buf);
      for (let w = 0; w < size;) w += await conn.write(buf.subarray(w));
      written += size;
    }
    await conn.closeWrite();
    await withTimeout(reader, 60_000, "the echo");
    assert.equal(received, total);
    assert.equal(got.digest("hex"), sent.digest("hex"));
  } finally {
    try {
      conn.close();
    } catch {
      // closed
    }
  }
}

const STOCK = "tcp:node,yamux:stock,noise:stock,framing:stock,peerStore:stock,events:stock," +
  "select:stock,buffers:stock,slabs:stock,reads:stock";

for (const [exposeTuning, connectTuning] of [[STOCK, ""], ["", STOCK]] as const) {
  Deno.test({
    name: `data path: p2p expose (${exposeTuning || "tuned"}) ↔ p2p connect (${
      connectTuning || "tuned"
    }): 16 MiB echoed byte-exact, and 20 short connections`,
    ...NODE_TEST,
    async fn() {
      const backend = echoBackend();
      const token = generateToken();
      let expose: Awaited<ReturnType<typeof spawnNode>> | undefined;
      let connect: Awaited<ReturnType<typeof spawnNode>> | undefined;
      try {
        expose = await spawnNode([
          "expose",
          "--target",
          `127.0.0.1:${backend.port}`,
          "--service",
          "echo",
          ...loopbackFlags(),
        ], { P2P_TOKEN: token, P2P_TUNING: exposeTuning });
        connect = await spawnNode([
          "connect",
          "--service",
          "echo",
          "--listen",
          "127.0.0.1:0",
          ...loopbackFlags([expose.addr]),
        ], { P2P_TOKEN: token, P2P_TUNING: connectTuning });
        const listen = String(connect.start.listen);
        const port = Number(listen.slice(listen.lastIndexOf(":") + 1));
        await echoThrough(port, 16 * MiB);
        await Promise.all(Array.from({ length: 20 }, () => echoThrough(port, 3000)));
      } finally {
        await stopAll([connect, expose]);
        backend.close();
      }
    },
  });
}
