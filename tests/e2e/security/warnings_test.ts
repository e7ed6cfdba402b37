// Issue 14 point 10 (in part): a warning that can repeat per connection is rate-limited. A
// burst logs a bounded number of lines, and those lines say how many they stand for. Against
// running processes: 300 clients of a balancer whose only worker cannot reach its target
// ("No worker could take a connection" was logged once per client, 399 times in 60 s).
import { loopbackFlags, type RunningNode, spawnNode, stopAll } from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import { RepeatedWarning } from "../../../src/services/repeated_warning.ts";
import { generateToken } from "../../../src/token/token.ts";
import { getOnce, untilPoolOnline } from "../api/_fixtures.ts";

interface Line {
  message: string;
  properties: Record<string, unknown>;
}

function recordingSink(): { lines: Line[]; warning(m: string, p?: Record<string, unknown>): void } {
  const lines: Line[] = [];
  return { lines, warning: (message, properties = {}) => void lines.push({ message, properties }) };
}

/** How many occurrences the lines stand for: a first line one, a report its count. */
function represented(lines: Line[]): number {
  return lines.reduce((n, l) => n + Number(l.properties.repeats ?? 1), 0);
}

Deno.test("RepeatedWarning: a burst of 10,000 logs 2 lines, the second counting the 9,999 others", () => {
  const sink = recordingSink();
  const warning = new RepeatedWarning(sink, "No worker could take a connection ({count} tried)");
  for (let i = 0; i < 10_000; i++) warning.warn({ count: 1 });
  assert.equal(sink.lines.length, 1);
  warning.stop();
  assert.equal(sink.lines.length, 2);
  assert.equal(sink.lines[0]!.message, "No worker could take a connection ({count} tried)");
  assert.equal(
    sink.lines[1]!.message,
    "No worker could take a connection ({count} tried) ({repeats} more like it in the last {repeatWindowS} s)",
  );
  assert.deepEqual(sink.lines[1]!.properties, { count: 1, repeats: 9_999, repeatWindowS: 10 });
});

Deno.test("RepeatedWarning: a steady flood logs one line per window and loses no count", async () => {
  const sink = recordingSink();
  const intervalMs = 50;
  const warning = new RepeatedWarning(sink, "Cannot reach {target}", intervalMs);
  const started = performance.now();
  let sent = 0;
  // About 20 windows of a warning every millisecond or so.
  while (performance.now() - started < 20 * intervalMs) {
    warning.warn({ target: "127.0.0.1:9" });
    sent++;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const windows = Math.ceil((performance.now() - started) / intervalMs);
  warning.stop();
  console.log(`${sent} warnings in ${windows} windows: ${sink.lines.length} lines`);
  // The first line, one report per window, and the last report at stop().
  assert.ok(sink.lines.length <= windows + 2, `${sink.lines.length} lines for ${windows} windows`);
  assert.equal(represented(sink.lines), sent);
});

/** Warning lines of `text` in a process's stderr, and the count they stand for. */
function linesAbout(node: RunningNode, text: string): { lines: string[]; total: number } {
  const lines = node.process.stderrLines.filter((l) => l.includes(text));
  const total = lines.reduce((n, l) => n + Number(/\((\d+) more like it/.exec(l)?.[1] ?? 1), 0);
  return { lines, total };
}

Deno.test({
  name: "300 clients of a worker whose target is down: ≤ 3 warning lines per process, all counted",
  async fn() {
    const CLIENTS = 300;
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const downTarget = `127.0.0.1:${(closed.addr as Deno.NetAddr).port}`;
    closed.close();
    const env = { P2P_TOKEN: generateToken() };
    let seed: RunningNode | undefined;
    let worker: RunningNode | undefined;
    try {
      seed = await spawnNode(["federated", "--listen", "127.0.0.1:0", ...loopbackFlags()], env);
      worker = await spawnNode(
        ["worker", "--target", downTarget, "--name", "down", ...loopbackFlags([seed.addr])],
        env,
      );
      await untilPoolOnline(seed.api, "federated", ["down"]);
      let unavailable = 0;
      for (let i = 0; i < CLIENTS; i++) {
        if ((await getOnce(String(seed.start.listen))).status === 503) unavailable++;
      }
      assert.equal(unavailable, CLIENTS);
      const during = linesAbout(seed, "No worker could take a connection").lines.length;
      await stopAll([seed, worker]);
      const balancer = linesAbout(seed, "No worker could take a connection");
      const target = linesAbout(worker, `Cannot reach the target ${downTarget}`);
      console.log(
        `balancer: ${balancer.lines.length} lines for ${balancer.total} failed connections ` +
          `(${during} while they came); worker: ${target.lines.length} lines for ${target.total}`,
      );
      assert.ok(during <= 2, balancer.lines.join("\n"));
      assert.ok(balancer.lines.length <= 3, balancer.lines.join("\n"));
      assert.equal(balancer.total, CLIENTS, balancer.lines.join("\n"));
      assert.ok(target.lines.length <= 3, target.lines.join("\n"));
      assert.equal(target.total, CLIENTS, target.lines.join("\n"));
    } finally {
      await stopAll([seed, worker]);
    }
  },
});
