import assert from "node:assert/strict";

const MOD = new URL("../../../mod.ts", import.meta.url).href;

/** Runs `code` in a fresh Deno process (its globals untouched) and returns its stdout lines. */
async function freshProcess(code: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim().split("\n");
}

Deno.test("importing mod.ts patches no global; the first network installs the Deno shims", async () => {
  const lines = await freshProcess(`
    const timeout = AbortSignal.timeout;
    const state = () => JSON.stringify({
      timeoutPatched: AbortSignal.timeout !== timeout,
      unref: "unref" in BroadcastChannel.prototype,
    });
    const p2p = await import(${JSON.stringify(MOD)});
    console.log(state());
    const network = await p2p.startNetwork({
      token: p2p.generateToken(),
      listen: ["/ip4/127.0.0.1/tcp/0"],
      bootstrapPeers: [],
      mdns: false,
      dht: false,
    });
    console.log(state());
    await network.stop();
  `);
  assert.deepEqual(lines.map((l) => JSON.parse(l)), [
    { timeoutPatched: false, unref: false },
    { timeoutPatched: true, unref: true },
  ]);
});
