// Soak: `deno task soak [--minutes N] [--sample-seconds S]` (default 10 minutes, every 10 s).
//
// Runs `p2p` processes on loopback (a seed node, expose + connect, federated + three workers)
// under mixed load for N minutes: bulk and small round trips through the expose/connect
// tunnel (every byte checked), client connections through the balancer (downloads checked
// by sha256), a ledger write every second (and its replication to a worker checked). Every
// S seconds it samples each process's RSS (/proc/<pid>/status VmRSS) and open fds
// (/proc/<pid>/fd). At the end it prints a table and whether RSS and fds ended flat: the
// median of the last third of the samples within 10 % of the median of the middle third (fds:
// or within 2), for each process. Exits 1 when one is not flat, a process died, or a
// connection hung or was corrupted.
import { installDenoShims } from "../src/node/deno_shims.ts";
installDenoShims();
import { parseArgs } from "node:util";
import { createHash, randomBytes } from "node:crypto";
import {
  loopbackFlags,
  type RunningNode,
  spawnNode,
  stopAll,
  waitFor,
} from "../tests/_helpers/mod.ts";
import { type ClientResult, fetchThrough, HOST, TestBackend } from "../tests/e2e/_fixtures.ts";
import { encodeToken, generateTokenConfig } from "../src/token/token.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    minutes: { type: "string", default: "10" },
    "sample-seconds": { type: "string", default: "10" },
  },
});
const minutes = Number(values.minutes);
const sampleMs = Number(values["sample-seconds"]) * 1000;
if (!(minutes > 0) || !(sampleMs > 0)) {
  console.error("error: --minutes and --sample-seconds must be positive numbers");
  Deno.exit(2);
}

const log = (text: string): void =>
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${text}`);

// ---------------------------------------------------------------------------------------
// Echo backend of the tunnel

function startEcho(): { address: string; stop(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        const buffer = new Uint8Array(64 * 1024);
        try {
          while (true) {
            const n = await conn.read(buffer);
            if (n === null) break;
            for (let o = 0; o < n;) o += await conn.write(buffer.subarray(o, n));
          }
          await conn.closeWrite();
        } catch {
          // the client went away
        } finally {
          conns.delete(conn);
          try {
            conn.close();
          } catch {
            // closed
          }
        }
      })();
    }
  })().catch(() => {});
  return {
    address: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    stop() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
    },
  };
}

const PAYLOAD = new Uint8Array(randomBytes(1024 * 1024));

/** Sends `bytes` of PAYLOAD through `address`, half-closes, checks the echo. Bounded. */
async function echoRoundTrip(address: string, bytes: number, timeoutMs = 30_000): Promise<string> {
  const [hostname, port] = address.split(":");
  let conn: Deno.TcpConn | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const work = (async () => {
    conn = await Deno.connect({ hostname: hostname!, port: Number(port) });
    const expected = createHash("sha256");
    const got = createHash("sha256");
    let received = 0;
    const reading = (async () => {
      const buffer = new Uint8Array(64 * 1024);
      while (true) {
        const n = await conn!.read(buffer);
        if (n === null) return;
        got.update(buffer.subarray(0, n));
        received += n;
      }
    })();
    for (let sent = 0; sent < bytes;) {
      const chunk = PAYLOAD.subarray(0, Math.min(PAYLOAD.byteLength, bytes - sent));
      for (let o = 0; o < chunk.byteLength;) o += await conn.write(chunk.subarray(o));
      expected.update(chunk);
      sent += chunk.byteLength;
    }
    await conn.closeWrite();
    await reading;
    if (received !== bytes) return `closed after ${received} of ${bytes} bytes`;
    return got.digest("hex") === expected.digest("hex") ? "ok" : "corrupt";
  })();
  try {
    return await Promise.race([
      work.catch((err) => `error ${err instanceof Error ? err.name : err}`),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // closed
    }
  }
}

// ---------------------------------------------------------------------------------------
// Sampling

interface Sample {
  at: number;
  rssKiB: number;
  fds: number;
}

async function sample(pid: number): Promise<Sample | undefined> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const rssKiB = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
    let fds = 0;
    for await (const _ of Deno.readDir(`/proc/${pid}/fd`)) fds++;
    return { at: Date.now(), rssKiB, fds };
  } catch {
    return undefined; // the process is gone
  }
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Middle-third and last-third medians, and whether the last stayed within the bound. */
function flatness(values: number[], absoluteSlack = 0) {
  const third = Math.floor(values.length / 3);
  const middle = median(values.slice(third, 2 * third));
  const last = median(values.slice(2 * third));
  const deltaPct = ((last - middle) / middle) * 100;
  const flat = Math.abs(last - middle) <= Math.max(0.1 * middle, absoluteSlack);
  return { middle, last, deltaPct, flat };
}

// ---------------------------------------------------------------------------------------
// Main

const tokenText = encodeToken(generateTokenConfig());
const env = { P2P_TOKEN: tokenText };
const echo = startEcho();
const backends = ["s1", "s2", "s3"].map((name) => new TestBackend(name));
const processes: { name: string; node: RunningNode }[] = [];
let failed = false;
const counters: Record<string, Record<string, number>> = {};
const count = (load: string, outcome: string): void => {
  counters[load] ??= {};
  counters[load][outcome] = (counters[load][outcome] ?? 0) + 1;
};

try {
  log(`soak: ${minutes} min, a sample every ${sampleMs / 1000} s; starting 7 processes`);
  const seed = await spawnNode(["node", ...loopbackFlags()], env);
  processes.push({ name: "node (seed)", node: seed });
  const boot = loopbackFlags([seed.addr]);
  const started = await Promise.all([
    spawnNode(["expose", "--target", echo.address, "--service", "soak", ...boot], env),
    spawnNode(["connect", "--service", "soak", ...boot], env),
    spawnNode(["federated", "--listen", "127.0.0.1:0", ...boot], env),
    ...backends.map((b) =>
      spawnNode(["worker", "--target", b.address, "--name", b.name, ...boot], env)
    ),
  ]);
  const names = ["expose", "connect", "federated", "worker s1", "worker s2", "worker s3"];
  started.forEach((node, i) => processes.push({ name: names[i]!, node }));
  const tunnel = String(started[1]!.start.listen);
  const balancer = String(started[2]!.start.listen);
  const worker1 = started[3]!;
  await waitFor(async () => (await echoRoundTrip(tunnel, 1024)) === "ok", {
    timeoutMs: 30_000,
    intervalMs: 200,
    message: "the tunnel",
  });
  await waitFor(async () => {
    const r = await fetch(`${started[2]!.api}/api/federated`).then((r) => r.json());
    return (r.workers as { online: boolean }[]).filter((w) => w.online).length === 3;
  }, { timeoutMs: 30_000, intervalMs: 200, message: "three workers online at the balancer" });
  log(`ready: tunnel ${tunnel}, balancer ${balancer} (workers ${HOST}-s1..s3)`);

  const endAt = Date.now() + minutes * 60_000;
  const running = () => Date.now() < endAt;
  const lanes: Promise<void>[] = [];
  // Tunnel: one bulk lane (4 MiB round trips) and two small-request lanes (1 KiB).
  lanes.push((async () => {
    while (running()) count("tunnel bulk 4 MiB", await echoRoundTrip(tunnel, 4 * 1024 * 1024));
  })());
  for (let i = 0; i < 2; i++) {
    lanes.push((async () => {
      while (running()) count("tunnel small 1 KiB", await echoRoundTrip(tunnel, 1024));
    })());
  }
  // Balancer: four lanes of 64 KiB downloads.
  for (let i = 0; i < 4; i++) {
    lanes.push((async () => {
      while (running()) {
        const r: ClientResult = await fetchThrough(balancer, 64 * 1024, 30_000);
        count("federated 64 KiB", r.outcome === "ok" ? `ok ${r.worker}` : r.outcome);
      }
    })());
  }
  // Ledger: one write a second on the seed (50 rotating keys), replication checked on s1.
  lanes.push((async () => {
    let n = 0;
    while (running()) {
      const next = Date.now() + 1000;
      const key = `k${n % 50}`;
      const value = { n, at: Date.now() };
      try {
        const r = await fetch(`${seed.api}/api/ledger/soak/${key}`, {
          method: "PUT",
          body: JSON.stringify(value),
          signal: AbortSignal.timeout(10_000),
        });
        await r.body?.cancel();
        count("ledger write", r.ok ? "ok" : `status ${r.status}`);
      } catch (err) {
        count("ledger write", `error ${err instanceof Error ? err.name : err}`);
      }
      if (n % 10 === 0) {
        // The write of 10 s ago is on the worker (replication keeps up).
        try {
          const old = `k${(n + 40) % 50}`;
          const seen = await fetch(`${worker1.api}/api/ledger/soak/${old}`, {
            signal: AbortSignal.timeout(10_000),
          }).then((r) => (r.ok ? r.json() : undefined));
          count(
            "ledger replicated (10 s old write on s1)",
            n < 10 || seen?.n === n - 10 ? "ok" : `behind`,
          );
        } catch (err) {
          count("ledger replicated (10 s old write on s1)", `error ${err}`);
        }
      }
      n++;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
    }
  })());

  // Sampling.
  const samples = new Map<string, Sample[]>(processes.map((p) => [p.name, []]));
  const dead = new Set<string>();
  while (running()) {
    const next = Date.now() + sampleMs;
    const line: string[] = [];
    for (const p of processes) {
      const s = await sample(p.node.process.child.pid);
      if (s === undefined) {
        dead.add(p.name);
        line.push(`${p.name}: DEAD`);
        continue;
      }
      samples.get(p.name)!.push(s);
      line.push(`${p.name} ${(s.rssKiB / 1024).toFixed(0)}M/${s.fds}fd`);
    }
    const minutesLeft = ((endAt - Date.now()) / 60_000).toFixed(1);
    log(`${line.join(", ")} (${minutesLeft} min left)`);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
  }
  log("load stopping");
  await Promise.all(lanes);

  // Report.
  console.log("\nload (outcome: count):");
  for (const [load, outcomes] of Object.entries(counters)) {
    console.log(`  ${load.padEnd(42)} ${JSON.stringify(outcomes)}`);
    for (const bad of ["corrupt", "timeout"]) {
      if (Object.keys(outcomes).some((o) => o.startsWith(bad))) failed = true;
    }
  }
  console.log(
    `\n${"process".padEnd(12)} ${"samples".padStart(7)} | ${
      "RSS MiB: first  middle  last  Δ%  flat".padEnd(42)
    } | fds: first middle last  Δ%  flat`,
  );
  for (const p of processes) {
    const s = samples.get(p.name)!;
    const rss = flatness(s.map((x) => x.rssKiB / 1024));
    const fds = flatness(s.map((x) => x.fds), 2);
    const ok = rss.flat && fds.flat && !dead.has(p.name);
    if (!ok) failed = true;
    console.log(
      `${p.name.padEnd(12)} ${String(s.length).padStart(7)} | ${
        (s[0]!.rssKiB / 1024).toFixed(0).padStart(13)
      } ${rss.middle.toFixed(0).padStart(7)} ${rss.last.toFixed(0).padStart(5)} ${
        rss.deltaPct.toFixed(1).padStart(5)
      }  ${rss.flat ? "yes" : "NO "}${"".padEnd(7)} | ${String(s[0]!.fds).padStart(10)} ${
        fds.middle.toFixed(0).padStart(6)
      } ${fds.last.toFixed(0).padStart(4)} ${fds.deltaPct.toFixed(1).padStart(5)}  ${
        fds.flat ? "yes" : "NO"
      }${dead.has(p.name) ? "  DIED" : ""}`,
    );
  }
  console.log(
    `\nall RSS and fd counts ${failed ? "did NOT all end flat (or a check failed)" : "ended flat"}`,
  );
} catch (err) {
  failed = true;
  console.error(`soak failed: ${err instanceof Error ? err.stack : err}`);
  for (const p of processes) {
    console.error(
      `--- ${p.name} stderr (last lines):\n${p.node.process.stderrLines.slice(-20).join("\n")}`,
    );
  }
} finally {
  const statuses = await Promise.all(
    processes.map((p) => p.node.process.stop("SIGTERM", 15_000).catch(() => undefined)),
  );
  statuses.forEach((s, i) => {
    if (s?.code !== 0) {
      console.log(`${processes[i]!.name} exited with ${s?.code} (signal ${s?.signal})`);
      failed = true;
    }
  });
  await stopAll(processes.map((p) => p.node));
  echo.stop();
  await Promise.all(backends.map((b) => b.stop()));
}
Deno.exit(failed ? 1 : 0);
