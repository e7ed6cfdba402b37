// The bench's interleaved runs and the paired ratios computed from them.
import assert from "node:assert/strict";
import { interleaved } from "../bench/lib/interleave.ts";
import { sumCpuReports } from "../bench/lib/proc.ts";
import { cpuAccount, pairedRatio, runOrder } from "../bench/lib/stats.ts";

Deno.test("runOrder: forward in even runs, backward in odd ones", () => {
  assert.deepEqual(runOrder(3, 0), [0, 1, 2]);
  assert.deepEqual(runOrder(3, 1), [2, 1, 0]);
  assert.deepEqual(runOrder(3, 2), [0, 1, 2]);
  assert.deepEqual(runOrder(0, 1), []);
});

Deno.test("pairedRatio: the median of per-run ratios, not the ratio of medians", () => {
  // Run 2 caught a slow stretch on both sides: paired, it still compares like with like.
  const tunnel = [500, 300, 520];
  const ssh = [480, 310, 680];
  assert.ok(Math.abs(pairedRatio(tunnel, ssh) - 300 / 310) < 1e-12);
  // The ratio of the medians would have set 500 against 480, and called it 1.04.
  assert.notEqual(pairedRatio(tunnel, ssh), 500 / 480);
});

Deno.test("pairedRatio: runs that do not pair up give NaN", () => {
  assert.ok(Number.isNaN(pairedRatio([1, 2], [1])));
  assert.ok(Number.isNaN(pairedRatio([], [])));
  // A zero on the other side is left out rather than turned into Infinity.
  assert.equal(pairedRatio([2, 4, 6], [1, 0, 3]), 2);
});

Deno.test("sumCpuReports: CPU adds up, shares are over the summed wall time", () => {
  const sum = sumCpuReports([
    { wallS: 1, procs: { a: { cpuS: 0.5, coreShare: 0.5 } }, machineBusy: 0.4 },
    {
      wallS: 3,
      procs: { a: { cpuS: 1.5, coreShare: 0.5 }, b: { cpuS: 3, coreShare: 1 } },
      machineBusy: 0.8,
    },
  ]);
  assert.equal(sum.wallS, 4);
  assert.deepEqual(sum.procs, { a: { cpuS: 2, coreShare: 0.5 }, b: { cpuS: 3, coreShare: 0.75 } });
  assert.ok(Math.abs(sum.machineBusy - 0.7) < 1e-12);
  assert.ok(Number.isNaN(sumCpuReports([]).machineBusy));
});

Deno.test("interleaved: every path's run i before any run i+1, order alternating", async () => {
  const paths = ["a", "b", "c"].map((name) => ({ name, pids: { self: Deno.pid } }));
  const calls: string[] = [];
  const out = await interleaved(paths, 3, (path) => {
    calls.push(path.name);
    return Promise.resolve(`${path.name}${calls.length}`);
  });
  assert.deepEqual(calls, ["a", "b", "c", "c", "b", "a", "a", "b", "c"]);
  assert.deepEqual(out.map((o) => o.results), [["a1", "a6", "a7"], ["b2", "b5", "b8"], [
    "c3",
    "c4",
    "c9",
  ]]);
  for (const o of out) {
    assert.ok(o.cpu.procs.self !== undefined && o.cpu.procs.self.cpuS >= 0);
    assert.ok(o.cpu.wallS >= 0);
  }
});

Deno.test("cpuAccount: CPU per unit of work, the shares, and what bounded the phase", () => {
  const account = cpuAccount({
    wallS: 2,
    procs: { expose: { cpuS: 1.8, coreShare: 0.9 }, connect: { cpuS: 1, coreShare: 0.5 } },
    machineBusy: 0.7,
  }, 600);
  assert.deepEqual(account.msPer, { expose: 3, connect: 1000 / 600 });
  assert.deepEqual(account.coreShare, { expose: 0.9, connect: 0.5 });
  assert.equal(account.machineBusy, 0.7);
  assert.equal(account.limit, "cpu:expose");
});
