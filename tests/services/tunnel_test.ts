// Tunnels end to end, in process: a TCP backend ← expose ← libp2p → connect ← TCP client.
import { waitFor, withTimeout } from "../_helpers/mod.ts";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { connectService } from "../../src/services/connect.ts";
import { exposeService } from "../../src/services/expose.ts";
import { USERS_BUCKET } from "../../src/services/constants.ts";
import type { Network } from "../../src/network/network.ts";
import {
  type Backend,
  closeQuietly,
  type Cluster,
  connectTo,
  echo,
  NODE_TEST,
  Pattern,
  patternSource,
  readAll,
  readToEnd,
  roundTrip,
  type SourceProgress,
  startBackend,
  startCluster,
  untilEvent,
  writeAll,
} from "./_fixtures.ts";

const MiB = 1024 * 1024;

/** A two-node network: `server` exposes `backend` as `service`, `client` connects to it. */
interface Tunnel {
  cluster: Cluster;
  server: Network;
  client: Network;
  /** The local `host:port` of `p2p connect` on the client. */
  address: string;
  exposed: Awaited<ReturnType<typeof exposeService>>;
  stop(): Promise<void>;
}

async function startTunnel(target: string, service: string): Promise<Tunnel> {
  const cluster = await startCluster(2);
  const [server, client] = cluster.networks as [Network, Network];
  let exposed: Awaited<ReturnType<typeof exposeService>> | undefined;
  let connected: Awaited<ReturnType<typeof connectService>> | undefined;
  const stop = async (): Promise<void> => {
    await connected?.stop();
    await exposed?.stop();
    await cluster.stop();
  };
  try {
    exposed = await exposeService(server, { target, service });
    connected = await connectService(client, { service, listen: "127.0.0.1:0" });
    return { cluster, server, client, address: connected.address, exposed, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Waits until the serving node has the client in `users` (it then accepts at once). */
function clientAccepted(tunnel: Tunnel): Promise<true> {
  const id = tunnel.client.peerId.toString();
  return untilEvent(
    tunnel.server.ledger,
    "change",
    () => tunnel.server.ledger.has(USERS_BUCKET, id) || undefined,
    5_000,
    "the client's users entry on the server",
  );
}

Deno.test({
  name: "expose/connect tunnel carries 256 MiB byte-exact (sha256 equal at both ends)",
  ...NODE_TEST,
  async fn() {
    const size = 256 * MiB;
    const progress: SourceProgress[] = [];
    const backend = startBackend(patternSource(size, progress));
    let tunnel: Tunnel | undefined;
    try {
      tunnel = await startTunnel(backend.address, "bulk");
      const conn = await connectTo(tunnel.address);
      try {
        const hash = createHash("sha256");
        const started = performance.now();
        const received = await withTimeout(
          readToEnd(conn, (chunk) => void hash.update(chunk)),
          90_000,
          "256 MiB through the tunnel",
        );
        const seconds = (performance.now() - started) / 1000;
        assert.equal(received, size);
        assert.equal(progress.length, 1, "one backend connection");
        assert.equal(progress[0]!.written, size);
        assert.equal(hash.digest("hex"), progress[0]!.sha256);
        // The serving side read its backend into slabs the cipher gave back.
        assert.ok(tunnel.server.node.services.sendSlabs.reused > 0, "read slabs reused");
        console.log(
          `256 MiB through the tunnel in ${seconds.toFixed(2)} s (${
            (256 / seconds).toFixed(0)
          } MiB/s, including the first connection's setup)`,
        );
      } finally {
        closeQuietly(conn);
      }
    } finally {
      await tunnel?.stop();
      await backend.close();
    }
  },
});

Deno.test({
  name: "bridge() forwards the client's half-close: the service answers after EOF",
  ...NODE_TEST,
  async fn() {
    // The service reads until EOF, then answers with the byte count and sha256.
    const backend = startBackend(async (conn) => {
      const hash = createHash("sha256");
      const bytes = await readToEnd(conn, (chunk) => void hash.update(chunk));
      const answer = JSON.stringify({ bytes, sha256: hash.digest("hex") });
      await writeAll(conn, new TextEncoder().encode(`${answer}\n`));
      await conn.closeWrite();
    });
    let tunnel: Tunnel | undefined;
    try {
      tunnel = await startTunnel(backend.address, "upload");
      const pattern = new Pattern(7);
      const upload = new Uint8Array(8 * MiB);
      for (let offset = 0; offset < upload.byteLength; offset += Pattern.CHUNK) {
        upload.set(pattern.next(), offset);
      }
      const answer = await withTimeout(
        roundTrip(tunnel.address, upload),
        20_000,
        "the answer after the client's EOF",
      );
      assert.deepEqual(JSON.parse(new TextDecoder().decode(answer)), {
        bytes: upload.byteLength,
        sha256: createHash("sha256").update(upload).digest("hex"),
      });
    } finally {
      await tunnel?.stop();
      await backend.close();
    }
  },
});

Deno.test({
  name: "bridge() forwards the service's half-close: the client still uploads after EOF",
  ...NODE_TEST,
  async fn() {
    // The service sends a banner and shuts its write side at once, then counts what arrives.
    let counted: (bytes: number) => void = () => {};
    const uploaded = new Promise<number>((resolve) => counted = resolve);
    const backend = startBackend(async (conn) => {
      await writeAll(conn, new TextEncoder().encode("banner\n"));
      await conn.closeWrite();
      counted(await readToEnd(conn));
    });
    let tunnel: Tunnel | undefined;
    try {
      tunnel = await startTunnel(backend.address, "banner");
      const conn = await connectTo(tunnel.address);
      try {
        const banner = await withTimeout(readAll(conn), 10_000, "the banner and EOF");
        assert.equal(new TextDecoder().decode(banner), "banner\n");
        // Our read side saw EOF; our write side is still open and reaches the service.
        const payload = new Uint8Array(MiB).fill(0x5a);
        await withTimeout(writeAll(conn, payload), 10_000, "the upload after EOF");
        await conn.closeWrite();
        assert.equal(await withTimeout(uploaded, 10_000, "the upload at the service"), MiB);
      } finally {
        closeQuietly(conn);
      }
    } finally {
      await tunnel?.stop();
      await backend.close();
    }
  },
});

Deno.test({
  name: "bridge() holds a fast backend back for a 10 MiB/s reader (bounded buffering)",
  ...NODE_TEST,
  async fn() {
    const rate = 10 * MiB; // bytes per second the client reads
    const toRead = 60 * MiB;
    const bound = 24 * MiB;
    const progress: SourceProgress[] = [];
    const backend = startBackend(patternSource(1024 * MiB, progress));
    let tunnel: Tunnel | undefined;
    let sampler: ReturnType<typeof setInterval> | undefined;
    try {
      tunnel = await startTunnel(backend.address, "firehose");
      await clientAccepted(tunnel);
      const conn = await connectTo(tunnel.address);
      let read = 0;
      let maxAhead = 0;
      const rssBefore = Deno.memoryUsage().rss;
      let rssMax = rssBefore;
      const sample = (): void => {
        const written = progress[0]?.written ?? 0;
        maxAhead = Math.max(maxAhead, written - read);
        rssMax = Math.max(rssMax, Deno.memoryUsage().rss);
      };
      sampler = setInterval(sample, 50);
      try {
        const expected = new Pattern();
        const buffer = new Uint8Array(64 * 1024);
        const started = performance.now();
        let mismatch = -1;
        const paced = async (): Promise<void> => {
          while (read < toRead) {
            const n = await conn.read(buffer);
            if (n === null) throw new Error(`EOF after ${read} bytes`);
            if (mismatch < 0 && !equalBytes(buffer.subarray(0, n), expected.next(n))) {
              mismatch = read;
            }
            read += n;
            sample();
            // Pace the reads: never ahead of `rate`.
            const ahead = read / rate * 1000 - (performance.now() - started);
            if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
          }
        };
        await withTimeout(paced(), 30_000, "60 MiB at 10 MiB/s");
        const seconds = (performance.now() - started) / 1000;
        assert.equal(mismatch, -1, `the bytes differ from the pattern at offset ${mismatch}`);
        console.log(
          `slow reader: ${(read / MiB).toFixed(0)} MiB in ${seconds.toFixed(1)} s; backend ahead ` +
            `of the reader by at most ${(maxAhead / MiB).toFixed(1)} MiB; RSS ${
              (rssBefore / MiB).toFixed(0)
            } → max ${(rssMax / MiB).toFixed(0)} MiB`,
        );
        assert.ok(seconds >= toRead / rate * 0.9, "the reader was slow");
        assert.ok(
          maxAhead < bound,
          `the backend got ${(maxAhead / MiB).toFixed(1)} MiB ahead of the reader (bound 24 MiB)`,
        );
        assert.ok(rssMax - rssBefore < 256 * MiB, "memory stayed bounded");
      } finally {
        closeQuietly(conn);
      }
      // The reader hung up mid-stream: the reset reaches the backend, whose writes now fail.
      const closedAt = performance.now();
      const end = await waitFor(() => progress[0]!.end, {
        timeoutMs: 5_000,
        message: "the backend's connection to end after the client hung up",
      });
      console.log(
        `client hung up → backend connection ended (${end}) after ${
          (performance.now() - closedAt).toFixed(0)
        } ms`,
      );
      assert.match(end, /^error/);
    } finally {
      clearInterval(sampler);
      await tunnel?.stop();
      await backend.close();
    }
  },
});

Deno.test({
  name: "expose/connect tunnel uploads 48 MiB byte-exact to a backend that starts reading late",
  ...NODE_TEST,
  async fn() {
    const size = 48 * MiB;
    let written = 0;
    let got: { bytes: number; sha256: string } | undefined;
    // The backend reads nothing until the client has written 1 MiB: the tunnel's windows
    // fill, and views of the client's read slabs wait unsealed in the streams meanwhile.
    const backend = startBackend(async (conn) => {
      await waitFor(() => written >= MiB, { timeoutMs: 30_000, message: "1 MiB written" });
      const hash = createHash("sha256");
      const bytes = await readToEnd(conn, (chunk) => void hash.update(chunk));
      got = { bytes, sha256: hash.digest("hex") };
    });
    let tunnel: Tunnel | undefined;
    try {
      tunnel = await startTunnel(backend.address, "upload");
      const conn = await connectTo(tunnel.address);
      try {
        const pattern = new Pattern(7);
        const hash = createHash("sha256");
        await withTimeout(
          (async () => {
            while (written < size) {
              const chunk = pattern.next(Math.min(Pattern.CHUNK, size - written));
              hash.update(chunk);
              await writeAll(conn, chunk);
              written += chunk.byteLength;
            }
            await conn.closeWrite();
          })(),
          60_000,
          "48 MiB into the tunnel",
        );
        await waitFor(() => got, { timeoutMs: 60_000, message: "the backend's hash" });
        assert.deepEqual(got, { bytes: size, sha256: hash.digest("hex") });
        assert.ok(tunnel.client.node.services.sendSlabs.reused > 0, "read slabs reused");
      } finally {
        closeQuietly(conn);
      }
    } finally {
      await tunnel?.stop();
      await backend.close();
    }
  },
});

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

Deno.test({
  name: "expose/connect tunnel serves 300 concurrent connections (echo round trips)",
  ...NODE_TEST,
  async fn() {
    const backend = startBackend(echo);
    let tunnel: Tunnel | undefined;
    try {
      tunnel = await startTunnel(backend.address, "echo");
      const address = tunnel.address;
      const started = performance.now();
      const results = await withTimeout(
        Promise.allSettled(Array.from({ length: 300 }, async (_, i) => {
          const payload = new TextEncoder().encode(`connection ${i} `.repeat(100));
          const answer = await roundTrip(address, payload);
          assert.deepEqual(answer, payload, `connection ${i} echoed`);
        })),
        30_000,
        "300 concurrent round trips",
      );
      const failed = results.filter((r) => r.status === "rejected");
      console.log(
        `300 concurrent tunnelled round trips in ${(performance.now() - started).toFixed(0)} ms`,
      );
      assert.equal(failed.length, 0, `failures: ${failed.slice(0, 3).map((f) => String(f))}`);
      assert.equal(backend.accepted, 300);
    } finally {
      await tunnel?.stop();
      await backend.close();
    }
  },
});

Deno.test({
  name: "expose: a target that is down closes the client's connection; serving resumes after",
  ...NODE_TEST,
  async fn() {
    // Reserve a port, then free it: the service is down.
    const reserved = startBackend(echo);
    const port = reserved.port;
    await reserved.close();
    let backend: Backend | undefined;
    let tunnel: Tunnel | undefined;
    try {
      tunnel = await startTunnel(`127.0.0.1:${port}`, "flaky");
      await clientAccepted(tunnel);
      const conn = await connectTo(tunnel.address);
      try {
        const started = performance.now();
        await writeAll(conn, new TextEncoder().encode("anyone there?\n")).catch(() => {});
        const outcome = await withTimeout(
          conn.read(new Uint8Array(1024)).then(
            (n) => n === null ? "EOF" : `${n} bytes`,
            (err) => `error ${err.name}`,
          ),
          3_000,
          "the client's connection to close",
        );
        const ms = performance.now() - started;
        console.log(`target down: the client saw ${outcome} after ${ms.toFixed(0)} ms`);
        assert.match(outcome, /^(EOF|error )/);
      } finally {
        closeQuietly(conn);
      }
      assert.ok(tunnel.exposed.stats.failed >= 1, "the failure is counted");

      // The target comes back on the same port: the same tunnel works again.
      backend = startBackend(echo, port);
      const payload = new TextEncoder().encode("back again");
      assert.deepEqual(
        await withTimeout(roundTrip(tunnel.address, payload), 10_000, "echo"),
        payload,
      );
    } finally {
      await tunnel?.stop();
      await backend?.close();
    }
  },
});
