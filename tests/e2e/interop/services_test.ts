// Services against edgevpn v0.34.0's real code: `p2p expose` served to the Go peer (its
// LocalAI-style tunnel), and a service exposed by the Go peer (edgevpn RegisterService) reached
// through `p2p connect`. 20 MB each way in one connection, sha256-checked; and what a client
// that half-closes sees through a Go end.
import {
  getJson,
  loopbackFlags,
  type RunningNode,
  spawnNode,
  stopAll,
  waitFor,
  withTimeout,
} from "../../_helpers/mod.ts";
import {
  type Backend,
  closeQuietly,
  connectTo,
  Pattern,
  readAll,
  readToEnd,
  startBackend,
  writeAll,
} from "../../_helpers/tcp.ts";
import { readLine } from "../../services/_fixtures.ts";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { generateToken } from "../../../src/token/token.ts";
import { GO_USERS_MS, GOSSIP_MS, goValue, INTEROP_TEST } from "./_fixtures.ts";
import { type GoPeer, startGoPeer } from "./_go_peer.ts";

const BYTES = 20_000_000;
const UP_SEED = 0x1234567;
const DOWN_SEED = 0x7654321;

/** sha256 (hex) of the first `bytes` bytes of the pattern with `seed`. */
function patternSha(seed: number, bytes: number): string {
  const pattern = new Pattern(seed);
  const hash = createHash("sha256");
  for (let sent = 0; sent < bytes; sent += Pattern.CHUNK) {
    hash.update(pattern.next(Math.min(Pattern.CHUNK, bytes - sent)));
  }
  return hash.digest("hex");
}

async function sendPattern(conn: Deno.Conn, seed: number, bytes: number): Promise<void> {
  const pattern = new Pattern(seed);
  for (let sent = 0; sent < bytes; sent += Pattern.CHUNK) {
    await writeAll(conn, pattern.next(Math.min(Pattern.CHUNK, bytes - sent)));
  }
}

/** Reads until EOF; sha256 and length of what came. */
async function receive(conn: Deno.Conn): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  const bytes = await readToEnd(conn, (chunk) => void hash.update(chunk));
  return { bytes, sha256: hash.digest("hex") };
}

/**
 * The backend of the bulk test: it reads exactly BYTES while sending BYTES of its own, then
 * closes; what it read is kept for the check. It never relies on the client's half-close,
 * which edgevpn does not keep.
 */
function bulkBackend(received: { bytes: number; sha256: string }[]): Backend {
  return startBackend(async (conn) => {
    const hash = createHash("sha256");
    let bytes = 0;
    const buffer = new Uint8Array(Pattern.CHUNK);
    await Promise.all([
      (async () => {
        while (bytes < BYTES) {
          const n = await conn.read(buffer.subarray(0, Math.min(buffer.length, BYTES - bytes)));
          if (n === null) break;
          hash.update(buffer.subarray(0, n));
          bytes += n;
        }
      })(),
      sendPattern(conn, DOWN_SEED, BYTES),
    ]);
    received.push({ bytes, sha256: hash.digest("hex") });
  });
}

/**
 * The half-close probe's backend: answers `pong` to the first line at once, then `got N` (the
 * bytes it read) once the client has half-closed: a request ended by the client's FIN.
 */
function pongThenReplyAtEof(): Backend {
  return startBackend(async (conn) => {
    await readLine(conn);
    await writeAll(conn, new TextEncoder().encode("pong\n"));
    const rest = await readToEnd(conn);
    await writeAll(conn, new TextEncoder().encode(`got ${rest}\n`));
  });
}

/** `ping`, wait for `pong`, half-close, then everything read until EOF. */
async function halfCloseProbe(address: string): Promise<{ pong: string; afterFin: string }> {
  const conn = await connectTo(address);
  try {
    await writeAll(conn, new TextEncoder().encode("ping\n"));
    const pong = await readLine(conn);
    await writeAll(conn, new TextEncoder().encode("the rest of the request"));
    await conn.closeWrite();
    const afterFin = new TextDecoder().decode(
      await withTimeout(readAll(conn), 10_000, "the answer after the FIN"),
    );
    return { pong, afterFin };
  } finally {
    closeQuietly(conn);
  }
}

/** One connection through `address`: BYTES up and BYTES down at once; MB/s of the slower. */
async function bulkThrough(
  address: string,
  received: { bytes: number; sha256: string }[],
): Promise<number> {
  const conn = await connectTo(address);
  const started = performance.now();
  try {
    const [, down] = await withTimeout(
      Promise.all([sendPattern(conn, UP_SEED, BYTES), receive(conn)]),
      120_000,
      `20 MB each way through ${address}`,
    );
    const seconds = (performance.now() - started) / 1000;
    assert.equal(down.bytes, BYTES, "bytes downloaded");
    assert.equal(down.sha256, patternSha(DOWN_SEED, BYTES), "sha256 downloaded");
    await waitFor(() => received.length > 0, { message: "the backend's count" });
    assert.deepEqual(received.shift(), { bytes: BYTES, sha256: patternSha(UP_SEED, BYTES) });
    return BYTES / 1e6 / seconds;
  } finally {
    closeQuietly(conn);
  }
}

Deno.test({
  name: "interop services: p2p expose ↔ Go tunnel and Go service ↔ p2p connect, 20 MB each way",
  ...INTEROP_TEST,
  async fn(t) {
    const token = generateToken();
    const received: { bytes: number; sha256: string }[] = [];
    const bulk = bulkBackend(received);
    const replying = pongThenReplyAtEof();
    let go: GoPeer | undefined;
    const nodes: RunningNode[] = [];
    try {
      go = await startGoPeer({ token });
      const flags = ["--no-dht", ...loopbackFlags([go.addr])];
      const [bulkExpose, probeExpose] = await Promise.all([
        spawnNode(["expose", "--target", bulk.address, "--service", "p2p-bulk", ...flags], {
          P2P_TOKEN: token,
        }),
        spawnNode(["expose", "--target", replying.address, "--service", "p2p-probe", ...flags], {
          P2P_TOKEN: token,
        }),
      ]);
      nodes.push(bulkExpose, probeExpose);

      await t.step("p2p expose, reached from the Go peer's tunnel (LocalAI)", async () => {
        const { address } = await go!.command<{ address: string }>("connect", {
          service: "p2p-bulk",
        });
        // The Go tunnel announces itself in `users`; our expose accepts it once it sees that.
        await waitFor(() => getJson(bulkExpose.api, `/api/ledger/users/${go!.peerId}`), {
          timeoutMs: GO_USERS_MS,
          message: "the Go peer in users at our expose",
        });
        await waitFor(async () => await goValue(go!, "services", "p2p-bulk") !== undefined, {
          timeoutMs: GOSSIP_MS,
          message: "our service in the Go peer's ledger",
        });
        const rate = await bulkThrough(address, received);
        console.log(`Go tunnel → p2p expose: ${rate.toFixed(1)} MB/s each way`);
      });

      await t.step(
        "a Go-exposed service (edgevpn RegisterService), through p2p connect",
        async () => {
          await go!.command("expose", { name: "go-bulk", target: bulk.address });
          const connect = await spawnNode(["connect", "--service", "go-bulk", ...flags], {
            P2P_TOKEN: token,
          });
          nodes.push(connect);
          // edgevpn resets streams from peers it does not see in `users` yet.
          await waitFor(
            async () => await goValue(go!, "users", connect.start.peerId) !== undefined,
            {
              timeoutMs: GOSSIP_MS,
              message: "our connect in the Go peer's users",
            },
          );
          const rate = await bulkThrough(String(connect.start.listen), received);
          console.log(`p2p connect → Go service: ${rate.toFixed(1)} MB/s each way`);
        },
      );

      await t.step(
        "half-close: kept between p2p ends; through a Go end the reply is lost (edgevpn closes both ways at the first EOF)",
        async () => {
          // DHT off: the p2p-only control dials the expose directly (ours carry no addresses in
          // `services`, as edgevpn's records do not).
          const p2pOnly = await spawnNode(
            ["connect", "--service", "p2p-probe", "--no-dht", ...loopbackFlags([probeExpose.addr])],
            { P2P_TOKEN: token },
          );
          nodes.push(p2pOnly);
          await waitFor(
            () => getJson(probeExpose.api, `/api/ledger/users/${p2pOnly.start.peerId}`),
            {
              timeoutMs: GOSSIP_MS,
              message: "our connect in users at the probe's expose",
            },
          );
          // Between p2p ends the answer sent after the client's FIN arrives.
          assert.deepEqual(await halfCloseProbe(String(p2pOnly.start.listen)), {
            pong: "pong",
            afterFin: "got 23\n",
          });

          const { address } = await go!.command<{ address: string }>("connect", {
            service: "p2p-probe",
          });
          await waitFor(() => getJson(probeExpose.api, `/api/ledger/users/${go!.peerId}`), {
            timeoutMs: GO_USERS_MS,
            message: "the Go peer in users at the probe's expose",
          });
          // Through the Go tunnel the exchange works until the FIN, then edgevpn closes both
          // directions: the answer is lost (LocalAI's proxyP2PConnection does the same).
          assert.deepEqual(await halfCloseProbe(address), { pong: "pong", afterFin: "" });
        },
      );
    } finally {
      await stopAll([...nodes, go?.process]);
      await Promise.all([bulk.close(), replying.close()]);
    }
  },
});
