import assert from "node:assert/strict";

const SCRIPT = new URL("../scripts/bundle.ts", import.meta.url).pathname;

Deno.test("scripts/bundle.ts: an unknown option is one error line and exit 1, nothing written", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, "--outdir-typo", "/tmp/never"],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(out.code, 1);
  assert.equal(new TextDecoder().decode(out.stdout), "");
  const stderr = new TextDecoder().decode(out.stderr).trim().split("\n");
  assert.deepEqual(stderr, ["error: Unknown option '--outdir-typo'"]);
  await assert.rejects(Deno.stat("/tmp/never"), Deno.errors.NotFound);
});
