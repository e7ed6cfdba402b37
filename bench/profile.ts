/**
 * A focused tunnel run for tuning: `p2p expose` + `p2p connect` against the bench service,
 * without the baselines, printing CPU ms per MiB / per connection of each tunnel process
 * (the steady figure on a shared machine) and optionally writing V8 tick profiles.
 *
 * ```sh
 * deno run -A bench/profile.ts                      # 200 MiB up + down ×2, RTT, conn/s
 * deno run -A bench/profile.ts --mib 100 --runs 1 --phases up,down
 * deno run -A bench/profile.ts --prof /tmp/prof     # V8 --prof logs of expose and connect
 * deno run -A bench/profile.ts --phases conn --conn-concurrency 1   # one connection at a time
 * node --prof-process /tmp/prof/expose/isolate-*.log | head -60
 * deno run -A bench/profile.ts --phases conn --cpuprofile /tmp/cpu   # call-tree profiles per phase
 * deno run -A bench/profile.ts --flags=--v8-flags=--max-semi-space-size=8   # extra deno flags
 * P2P_TUNING=tcp:node deno run -A bench/profile.ts  # the env reaches the tunnel processes
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { bulkDownload, bulkUpload, connRate, echoExchange, echoRtt } from "./lib/load.ts";
import { cpuProbe, loadAvg, rssMiB, rssSampler, sleep } from "./lib/proc.ts";
import { spawnServer, spawnTunnelPair } from "./lib/spawn.ts";
import { fmt } from "./lib/stats.ts";
import { warmUp } from "./paths.ts";
import {
  attachProfiler,
  formatSummary,
  inspectorUrl,
  type Profiler,
  summarizeProfile,
} from "./lib/cpu_profile.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mib: { type: "string", default: "200" },
    runs: { type: "string", default: "2" },
    phases: { type: "string", default: "up,down,rtt,conn,par" },
    prof: { type: "string" },
    cpuprofile: { type: "string" },
    "sampling-us": { type: "string", default: "200" },
    flags: { type: "string", multiple: true, default: [] },
    "conn-seconds": { type: "string", default: "2" },
    "conn-concurrency": { type: "string", default: "16" },
    stderr: { type: "boolean", default: false },
    "rtt-count": { type: "string", default: "2000" },
    warm: { type: "boolean", default: false },
  },
});
const mib = Number(values.mib);
/** Mean bytes between two allocation samples of `--cpuprofile` (V8's default is 32 KiB). */
const ALLOCATION_SAMPLE_BYTES = 16 * 1024;
const runs = Number(values.runs);
const phases = new Set(values.phases.split(","));

/** Each tunnel process's own flags: an inspector, V8's tick log, `--flags`. */
async function profilingFlags(name: "expose" | "connect"): Promise<string[]> {
  if (values.prof !== undefined) await Deno.mkdir(values.prof, { recursive: true });
  return [
    ...(values.cpuprofile === undefined ? [] : ["--inspect=127.0.0.1:0"]),
    ...(values.prof === undefined
      ? []
      : [`--v8-flags=--prof,--logfile=${values.prof}/${name}.log,--no-logfile-per-isolate`]),
    ...values.flags,
  ];
}

const started: { stop(): Promise<void> }[] = [];
try {
  console.log(
    `load average ${loadAvg()}; flags ${values.flags.join(" ") || "-"}; tuning ${
      Deno.env.get("P2P_TUNING") ?? "default"
    }`,
  );
  const service = await spawnServer<{ port: number }>("service.ts", []);
  started.push(service.child);
  const flags = {
    expose: await profilingFlags("expose"),
    connect: await profilingFlags("connect"),
  };
  const { expose, connect, port } = await spawnTunnelPair(service.info.port, (name) => flags[name]);
  started.push(expose.child, connect.child);
  await warmUp(port, 30_000, "the tunnel");
  const pids = { expose: expose.child.pid, connect: connect.child.pid };
  console.log(`pids: expose ${pids.expose} connect ${pids.connect} service ${service.child.pid}`);
  await sleep(2_000);
  console.log(
    `idle RSS MiB: expose ${fmt(rssMiB(pids.expose))} connect ${fmt(rssMiB(pids.connect))}`,
  );
  const profilers = new Map<string, Profiler>();
  if (values.cpuprofile !== undefined) {
    await Deno.mkdir(values.cpuprofile, { recursive: true });
    for (const c of [expose.child, connect.child]) {
      const url = inspectorUrl(c.stderrTail);
      if (url === undefined) throw new Error(`${c.name}: no inspector address on stderr`);
      profilers.set(c.name, await attachProfiler(url));
    }
  }
  /** Profiles both tunnel processes around `run` when `--cpuprofile` is given. */
  const profiled = async <T>(phase: string, run: () => Promise<T>): Promise<T> => {
    if (profilers.size === 0) return await run();
    for (const p of profilers.values()) {
      await p.start(Number(values["sampling-us"]));
      await p.startAllocations(ALLOCATION_SAMPLE_BYTES);
    }
    const result = await run();
    for (const [name, p] of profilers) {
      const profile = await p.stop();
      const allocations = await p.stopAllocations();
      const base = `${values.cpuprofile}/${name}-${phase}`;
      const allocated = allocations.reduce((sum, [, bytes]) => sum + bytes, 0);
      await Deno.writeTextFile(
        `${base}.alloc.txt`,
        `${name} ${phase}: ${fmt(allocated / 2 ** 20)} MiB allocated (sampled)\n` +
          allocations.slice(0, 60).map(([fn, bytes]) =>
            `${fmt((bytes / allocated) * 100, 1).padStart(5)}%  ${fn}`
          ).join("\n") + "\n",
      );
      await Deno.writeTextFile(`${base}.cpuprofile`, JSON.stringify(profile));
      const text = formatSummary(`${name} ${phase}`, summarizeProfile(profile), 80);
      await Deno.writeTextFile(`${base}.txt`, text + "\n");
      console.log(text.split("\n").slice(0, 30).join("\n"));
    }
    return result;
  };
  const cpuLine = (
    what: string,
    stop: ReturnType<typeof cpuProbe>,
    per: number,
    unit: string,
  ): string => {
    const r = stop();
    return `${what}: ` + Object.entries(r.procs).map(([k, v]) =>
      `${k} ${fmt((v.cpuS * 1000) / per, 2)} ms/${unit} (${fmt(v.coreShare * 100, 0)}%)`
    ).join(", ") + `; machine ${fmt(r.machineBusy * 100, 0)}%`;
  };
  if (values.warm) {
    // As the bench does before measuring: JIT-compiled paths, grown windows.
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 === 0 ? bulkUpload : bulkDownload)(port, 25, 200_000)),
    );
  }
  for (const dir of ["up", "down"] as const) {
    if (!phases.has(dir)) {
      continue;
    }
    const stop = cpuProbe(pids);
    const rates: number[] = [];
    await profiled(dir, async () => {
      for (let i = 0; i < runs; i++) {
        rates.push(
          await (dir === "up" ? bulkUpload : bulkDownload)(port, mib, 10_000 + mib * 1000),
        );
      }
    });
    console.log(
      `${dir} MiB/s ${
        rates.map((r) => fmt(r)).join(" ")
      }; ` +
        cpuLine("cpu", stop, mib * runs, "MiB"),
    );
  }
  if (phases.has("rtt")) {
    const stop = cpuProbe(pids);
    const count = Number(values["rtt-count"]);
    const rtt = await profiled("rtt", () =>
      echoRtt(port, count, 64, 120_000));
    console.log(
      `rtt p50 ${fmt(rtt.p50Ms, 3)} p99 ${fmt(rtt.p99Ms, 3)} ms; ` +
        cpuLine("cpu", stop, count, "rt"),
    );
  }
  if (phases.has("conn")) {
    const concurrency = Number(values["conn-concurrency"]);
    await connRate(port, { concurrency, seconds: 1, maxConns: 500 }, echoExchange);
    const stop = cpuProbe(pids);
    const c = await profiled("conn", () =>
      connRate(port, {
        concurrency,
        seconds: Number(values["conn-seconds"]),
        maxConns: 5000,
      }, echoExchange));
    console.log(
      `conn/s ${fmt(c.perS, 0)} at c${concurrency} (errors ${c.errors}), first answer byte ` +
        `p50 ${fmt(c.firstByteP50Ms, 3)} p99 ${fmt(c.firstByteP99Ms, 3)} ms; ` +
        cpuLine("cpu", stop, Math.max(1, c.ok), "conn"),
    );
  }
  if (phases.has("par")) {
    const stopRss = rssSampler(pids);
    await Promise.all(
      Array.from(
        { length: 8 },
        (_, i) => (i % 2 === 0 ? bulkUpload : bulkDownload)(port, 25, 200_000),
      ),
    );
    const max = stopRss();
    console.log(
      `8 parallel × 25 MiB: max RSS MiB expose ${fmt(max.expose ?? NaN)} connect ${
        fmt(max.connect ?? NaN)
      }`,
    );
  }
  if (values.stderr) {
    for (const c of [expose.child, connect.child]) {
      console.log(c.tail(40));
    }
  }
  for (const p of profilers.values()) p.close();
} finally {
  await Promise.all(started.map((s) => s.stop().catch(() => {})));
}
