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
 * deno run -A bench/profile.ts --flags=--v8-flags=--max-semi-space-size=8   # extra deno flags
 * P2P_TUNING=tcp:node deno run -A bench/profile.ts  # the env reaches the tunnel processes
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { generateToken } from "../src/token/token.ts";
import { bulkDownload, bulkUpload, connRate, echoExchange, echoRtt } from "./lib/load.ts";
import { Child, cpuProbe, loadAvg, rssMiB, rssSampler, sleep } from "./lib/proc.ts";
import { loopbackFlags, spawnServer, type StartLine } from "./lib/spawn.ts";
import { fmt } from "./lib/stats.ts";
import { warmUp } from "./paths.ts";
import { p2pEntry, p2pTaskV8Flags } from "./lib/entry.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mib: { type: "string", default: "200" },
    runs: { type: "string", default: "2" },
    phases: { type: "string", default: "up,down,rtt,conn,par" },
    prof: { type: "string" },
    flags: { type: "string", multiple: true, default: [] },
    "conn-seconds": { type: "string", default: "2" },
    "conn-concurrency": { type: "string", default: "16" },
    stderr: { type: "boolean", default: false },
    "rtt-count": { type: "string", default: "2000" },
    warm: { type: "boolean", default: false },
  },
});
const mib = Number(values.mib);
const runs = Number(values.runs);
const phases = new Set(values.phases.split(","));

async function spawnNode(
  name: string,
  args: string[],
): Promise<{ child: Child; start: StartLine }> {
  const prof = values.prof === undefined
    ? []
    : [`--v8-flags=--prof,--logfile=${values.prof}/${name}.log,--no-logfile-per-isolate`];
  if (values.prof !== undefined) await Deno.mkdir(values.prof, { recursive: true });
  const child = new Child({
    name,
    cmd: Deno.execPath(),
    args: ["run", "-A", ...p2pTaskV8Flags(), ...prof, ...values.flags, p2pEntry(), ...args],
    env: Deno.env.toObject(),
  });
  const line = await child.waitLine((l) => l.startsWith("{"), 30_000);
  return { child, start: JSON.parse(line) as StartLine };
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
  const token = generateToken();
  const expose = await spawnNode("expose", [
    "expose",
    "--target",
    `127.0.0.1:${service.info.port}`,
    "--service",
    "bench",
    ...loopbackFlags(token, []),
  ]);
  started.push(expose.child);
  const exposeAddr = expose.start.addresses.find((a) => a.startsWith("/ip4/127.0.0.1/"))!;
  const connect = await spawnNode("connect", [
    "connect",
    "--service",
    "bench",
    "--listen",
    "127.0.0.1:0",
    ...loopbackFlags(token, [
      exposeAddr.includes("/p2p/") ? exposeAddr : `${exposeAddr}/p2p/${expose.start.peerId}`,
    ]),
  ]);
  started.push(connect.child);
  const port = Number(String(connect.start.listen).split(":").pop());
  await warmUp(port, 30_000, "the tunnel");
  const pids = { expose: expose.child.pid, connect: connect.child.pid };
  console.log(`pids: expose ${pids.expose} connect ${pids.connect} service ${service.child.pid}`);
  await sleep(2_000);
  console.log(
    `idle RSS MiB: expose ${fmt(rssMiB(pids.expose))} connect ${fmt(rssMiB(pids.connect))}`,
  );
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
    for (let i = 0; i < runs; i++) {
      rates.push(await (dir === "up" ? bulkUpload : bulkDownload)(port, mib, 10_000 + mib * 1000));
    }
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
    const rtt = await echoRtt(port, count, 64, 120_000);
    console.log(
      `rtt p50 ${fmt(rtt.p50Ms, 3)} p99 ${fmt(rtt.p99Ms, 3)} ms; ` +
        cpuLine("cpu", stop, count, "rt"),
    );
  }
  if (phases.has("conn")) {
    const concurrency = Number(values["conn-concurrency"]);
    await connRate(port, { concurrency, seconds: 1, maxConns: 500 }, echoExchange);
    const stop = cpuProbe(pids);
    const c = await connRate(port, {
      concurrency,
      seconds: Number(values["conn-seconds"]),
      maxConns: 5000,
    }, echoExchange);
    console.log(
      `conn/s ${fmt(c.perS, 0)} at c${concurrency} (errors ${c.errors}), first answer byte ` +
        `p50 ${fmt(c.firstByteP50Ms, 3)} p99 ${fmt(c.firstByteP99Ms, 3)} ms; ` +
        cpuLine("cpu", stop, Math.max(1, c.ok), "conn"),
    );
  }
  if (phases.has("par")) {
    const stopRss = rssSampler(pids);
    await Promise.all(Array.from({ length: 8 }, (_, i) =>
      (i % 2 === 0 ? bulkUpload : bulkDownload)(port, 25, 200_000)));
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
} finally {
  await Promise.all(started.map((s) => s.stop().catch(() => {})));
}
