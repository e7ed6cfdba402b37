// `p2p demo` (`deno task demo`) as a user meets it: the banner, the curl loop it suggests,
// the dashboard, /metrics and LocalAI's /api/p2p at the printed addresses, and Ctrl-C.
import { P2PProcess, waitFor, withTimeout } from "../../_helpers/mod.ts";
import assert from "node:assert/strict";

interface DashboardPool {
  bucket: string;
  workers: { name: string; online: boolean }[];
}

/** The address printed after `label` in the banner (`try:` → balancer, `dashboard:` → API). */
function bannerAddress(lines: string[], label: string): string | undefined {
  const line = lines.find((l) => l.trimStart().startsWith(label));
  return line === undefined ? undefined : /http:\/\/(127\.0\.0\.1:\d+)\//.exec(line)?.[1];
}

Deno.test({
  name: "p2p demo: banner, six curls over alpha/bravo/charlie, dashboard, metrics; SIGINT → 0",
  async fn() {
    // Port 0 for both: the banner prints the bound addresses.
    const demo = new P2PProcess(["demo", "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"]);
    // One TCP connection per request, like curl in a loop: the balancer routes connections.
    const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    try {
      const [balancer, api] = await waitFor(() => {
        const lines = demo.stdoutLines;
        if (!lines.some((l) => l.includes("Ctrl-C stops everything."))) return undefined;
        const found = [bannerAddress(lines, "try:"), bannerAddress(lines, "dashboard:")];
        return found.every((a) => a !== undefined) ? found as [string, string] : undefined;
      }, { timeoutMs: 20_000, intervalMs: 50, message: "the demo banner" }).catch((err) => {
        throw new Error(
          `${err.message}\nstdout:\n${demo.stdoutLines.join("\n")}\nstderr:\n${demo.stderrText}`,
        );
      });
      const banner = demo.stdoutLines.join("\n");
      assert.match(banner, new RegExp(`curl -s http://${balancer}/`));
      assert.match(banner, new RegExp(`curl -s http://${api}/metrics`));
      assert.match(banner, new RegExp(`curl -s http://${api}/api/p2p`));

      // What the banner suggests, at once: six answers, round-robin over the three workers.
      const answers: string[] = [];
      for (let i = 0; i < 6; i++) {
        const response = await fetch(`http://${balancer}/`, {
          client,
          signal: AbortSignal.timeout(5_000),
        });
        assert.equal(response.status, 200);
        answers.push((await response.text()).trim());
      }
      for (const answer of answers) assert.match(answer, /^hello from (alpha|bravo|charlie)$/);
      // Round-robin: normally two each; at least, every worker answered.
      assert.deepEqual(
        [...new Set(answers)].sort(),
        ["hello from alpha", "hello from bravo", "hello from charlie"],
        answers.join(", "),
      );

      // The dashboard page and its data.
      const page = await fetch(`http://${api}/`, { client });
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
      assert.match(await page.text(), /<title>p2p dashboard<\/title>/);
      interface Dashboard {
        pools: DashboardPool[];
        federated: { accepted: number; strategy: string } | null;
      }
      // Three online workers (bounded wait: a starved machine can delay a liveness ping).
      const dashboard = await waitFor(async () => {
        const data = await (await fetch(`http://${api}/api/dashboard`, { client }))
          .json() as Dashboard;
        const pool = data.pools.find((p) => p.bucket === "federated");
        const online = pool?.workers.filter((w) => w.online).map((w) => w.name);
        return online?.join() === "alpha,bravo,charlie" && pool?.workers.length === 3
          ? data
          : undefined;
      }, { timeoutMs: 10_000, intervalMs: 100, message: "three online workers in /api/dashboard" });
      assert.equal(dashboard.federated?.strategy, "round-robin");
      assert.equal(dashboard.federated?.accepted, 6);

      // /metrics and LocalAI's /api/p2p answer.
      const metrics = await fetch(`http://${api}/metrics`, { client });
      assert.equal(metrics.status, 200);
      const text = await metrics.text();
      assert.match(text, /^p2p_federated_connections_total\{outcome="accepted"\} 6$/m);
      assert.match(text, /^p2p_workers_online\{pool="federated"\} 3$/m);
      const p2p = await (await fetch(`http://${api}/api/p2p`, { client })).json() as Record<
        string,
        { Name: string }[]
      >;
      assert.deepEqual(Object.keys(p2p).sort(), [
        "federated_nodes",
        "llama_cpp_nodes",
        "mlx_nodes",
      ]);
      assert.deepEqual(p2p.federated_nodes!.map((n) => n.Name).sort(), [
        "alpha",
        "bravo",
        "charlie",
      ]);

      // Ctrl-C stops everything with exit code 0.
      demo.child.kill("SIGINT");
      const status = await withTimeout(demo.exited, 10_000, "the demo to exit after SIGINT");
      assert.equal(status.code, 0, demo.stderrText);
      assert.doesNotMatch(demo.stderrText, /\berror\b/i);
    } finally {
      client.close();
      await demo.stop();
    }
  },
});
