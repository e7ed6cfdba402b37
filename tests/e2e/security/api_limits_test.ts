// Issue 14 point 9: the API's resources are bounded. A 512 MiB PUT is refused with 413 while it
// arrives (the node's RSS grows by at most 16 MiB); 2,000 idle and slow-header connections
// are closed within the header timeout and the node's file descriptors come back to their
// baseline; legit requests are answered throughout both.
import { loopbackFlags, type RunningNode, spawnNode, stopAll } from "../../_helpers/mod.ts";
import { waitFor, withTimeout } from "../../_helpers/wait.ts";
import { closeQuietly, connectTo, readAll, writeAll } from "../../_helpers/tcp.ts";
import assert from "node:assert/strict";
import { fdCount, rssMiB, rssSampler } from "../../../bench/lib/proc.ts";
import { API_HEADER_TIMEOUT_MS, API_IDLE_TIMEOUT_MS } from "../../../src/api/constants.ts";
import { generateToken } from "../../../src/token/token.ts";
import { holdIdleClients, type IdleClients } from "../../security/_idle_clients.ts";
import { parseAnswer } from "../../security/_raw_http.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const UPLOAD_BYTES = 512 * 1024 * 1024;
const RSS_GROWTH_LIMIT_MIB = 16;
const IDLE_CLIENTS = 2_000;

/** Legit GETs every `everyMs` until `stop()`; returns every status seen. */
function legitClient(api: string, everyMs: number): { stop(): Promise<number[]> } {
  const statuses: number[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const answer = await fetch(`${api}/api/node`, { signal: AbortSignal.timeout(5_000) })
        .then(async (r) => (await r.arrayBuffer(), r.status), () => 0);
      statuses.push(answer);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return statuses;
    },
  };
}

/**
 * PUTs `total` bytes of a JSON string to `address`, chunked or with a Content-Length, from one
 * reused 64 KiB buffer (never held whole); `midway` runs once 512 KiB are sent (the upload
 * still open). Returns the answer and how much was sent.
 */
async function hugePut(
  address: string,
  total: number,
  framing: "chunked" | "length",
  midway: () => Promise<void> = () => Promise.resolve(),
): Promise<{ status: number; body: string; sent: number }> {
  const conn = await connectTo(address);
  const chunk = new Uint8Array(64 * 1024).fill(0x61); // "aaaa…"
  chunk[0] = 0x22; // the opening quote: the body starts as a JSON string that never ends
  const length = framing === "length" ? `Content-Length: ${total}` : "Transfer-Encoding: chunked";
  const head = `PUT /api/ledger/demo/huge HTTP/1.1\r\nHost: ${address}\r\n` +
    `Content-Type: application/json\r\n${length}\r\n\r\n`;
  let sent = 0;
  const answer = readAll(conn).then((b) => decoder.decode(b), () => "");
  try {
    await writeAll(conn, encoder.encode(head));
    const frame = encoder.encode(`${chunk.byteLength.toString(16)}\r\n`);
    const crlf = encoder.encode("\r\n");
    while (sent < total) {
      if (framing === "chunked") await writeAll(conn, frame);
      await writeAll(conn, chunk);
      if (framing === "chunked") await writeAll(conn, crlf);
      sent += chunk.byteLength;
      if (sent === 512 * 1024) await midway();
    }
  } catch {
    // the node closed the connection: what matters is what it answered
  }
  const raw = await withTimeout(answer, 30_000, "the answer to the huge PUT");
  closeQuietly(conn);
  const { status, body } = parseAnswer(raw);
  return { status, body, sent };
}

Deno.test({
  name: "API: a 512 MiB PUT gets 413 while it arrives; the node's RSS grows ≤ 16 MiB",
  async fn() {
    let node: RunningNode | undefined;
    try {
      node = await spawnNode(["node", ...loopbackFlags()], { P2P_TOKEN: generateToken() });
      const pid = node.process.child.pid;
      const address = new URL(node.api).host;
      // Warm up the code paths the upload takes, then take the baseline.
      for (let i = 0; i < 3; i++) {
        const small = await hugePut(address, 2 * 1024 * 1024, "chunked");
        assert.equal(small.status, 413);
      }
      const baseline = rssMiB(pid);
      const peak = rssSampler({ node: pid }, 10);
      const legit = legitClient(node.api, 10);
      // While the upload is open, other requests are answered.
      const midwayStatuses: number[] = [];
      const midway = async (): Promise<void> => {
        for (let i = 0; i < 5; i++) {
          const answer = await fetch(`${node!.api}/api/node`, {
            signal: AbortSignal.timeout(5_000),
          });
          await answer.arrayBuffer();
          midwayStatuses.push(answer.status);
        }
      };
      let results: Awaited<ReturnType<typeof hugePut>>[];
      try {
        results = [
          await hugePut(address, UPLOAD_BYTES, "chunked", midway),
          await hugePut(address, UPLOAD_BYTES, "length"),
        ];
        assert.deepEqual(midwayStatuses, [200, 200, 200, 200, 200]);
      } finally {
        const statuses = await legit.stop();
        const grown = (peak().node ?? NaN) - baseline;
        console.log(
          `RSS baseline ${baseline.toFixed(1)} MiB, peak growth ${grown.toFixed(1)} MiB; ` +
            `legit answers ${statuses.filter((s) => s === 200).length}/${statuses.length}`,
        );
        assert.ok(grown <= RSS_GROWTH_LIMIT_MIB, `RSS grew by ${grown.toFixed(1)} MiB`);
        assert.ok(statuses.length > 0 && statuses.every((s) => s === 200), `${statuses}`);
      }
      for (const result of results) {
        assert.equal(result.status, 413, result.body);
        assert.match(JSON.parse(result.body).error, /larger than 1048576 bytes/);
        console.log(`sent ${(result.sent / 1048576).toFixed(1)} MiB before the node closed`);
        assert.ok(result.sent < UPLOAD_BYTES, "the node read the whole upload");
      }
      assert.equal((await fetch(`${node.api}/api/ledger/demo/huge`)).status, 404);
    } finally {
      await stopAll([node]);
    }
  },
});

Deno.test({
  name: "API: 2,000 idle and slow-header connections are closed in time; fds back to baseline",
  async fn() {
    let node: RunningNode | undefined;
    let idle: IdleClients | undefined;
    const keepAlive: Deno.Conn[] = [];
    try {
      node = await spawnNode(["node", ...loopbackFlags()], { P2P_TOKEN: generateToken() });
      const pid = node.process.child.pid;
      const address = new URL(node.api).host;
      await (await fetch(`${node.api}/api/node`)).arrayBuffer();
      const baseline = fdCount(pid);
      let peakFds = baseline;
      const fdTimer = setInterval(() => (peakFds = Math.max(peakFds, fdCount(pid) || 0)), 20);
      const legit = legitClient(node.api, 100);
      try {
        // Keep-alive connections that made one request, then went quiet.
        for (let i = 0; i < 10; i++) {
          const conn = await connectTo(address);
          keepAlive.push(conn);
          await writeAll(conn, encoder.encode(`GET /healthz HTTP/1.1\r\nHost: ${address}\r\n\r\n`));
        }
        const slowHead = encoder.encode(`GET /api/node HTTP/1.1\r\nHost: ${address}\r\n`);
        idle = holdIdleClients({
          address,
          count: IDLE_CLIENTS,
          prefix: (i) => (i % 2 === 0 ? slowHead : undefined),
        });
        await idle.ramped(30_000);
        const bound = Math.max(API_HEADER_TIMEOUT_MS, API_IDLE_TIMEOUT_MS) + 10_000;
        await waitFor(() => idle!.open === 0, {
          timeoutMs: bound,
          intervalMs: 100,
          message: `the node to close ${IDLE_CLIENTS} idle connections (${idle.open} open)`,
        });
        for (const conn of keepAlive) {
          const rest = await withTimeout(readAll(conn), 5_000, "a keep-alive connection closed");
          assert.match(decoder.decode(rest), /^HTTP\/1\.1 200 /);
        }
        assert.equal(idle.closedByServer, idle.opened);
        await waitFor(() => fdCount(pid) <= baseline + 5, {
          timeoutMs: 5_000,
          message: `fds back near the baseline of ${baseline}`,
        });
      } finally {
        clearInterval(fdTimer);
        const statuses = await legit.stop();
        console.log(
          `fds: baseline ${baseline}, peak ${peakFds}, after ${fdCount(pid)}; ` +
            `legit answers ${statuses.filter((s) => s === 200).length}/${statuses.length}`,
        );
        assert.ok(statuses.length > 0 && statuses.every((s) => s === 200), `${statuses}`);
      }
    } finally {
      for (const conn of keepAlive) closeQuietly(conn);
      await idle?.stop();
      await stopAll([node]);
    }
  },
});
