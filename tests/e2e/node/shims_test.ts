import assert from "node:assert/strict";

const FIXTURE = new URL("../../node/_fixtures/start_stop.ts", import.meta.url).pathname;

/** Runs the fixture; returns ms between its "stopped" line and its exit, or undefined if killed. */
async function exitDelayAfterStop(args: string[], limitMs: number): Promise<number | undefined> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", FIXTURE, ...args],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  let stoppedAt: number | undefined;
  let killer: ReturnType<typeof setTimeout> | undefined;
  const reader = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      if (chunk.includes("stopped") && stoppedAt === undefined) {
        stoppedAt = performance.now();
        killer = setTimeout(() => child.kill("SIGKILL"), limitMs);
      }
    }
  })();
  const hardStop = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const status = await child.status;
  const exitedAt = performance.now();
  clearTimeout(killer);
  clearTimeout(hardStop);
  await reader;
  assert.ok(stoppedAt !== undefined, "the fixture never reached stop()");
  return status.signal === "SIGKILL" ? undefined : exitedAt - stoppedAt;
}

// Without the shims the process stays up for minutes (over 90 s measured): 10 s after stop()
// tells a hang from an exit on any machine, however loaded.
const HANG_MS = 10_000;

Deno.test("a process that starts and stops a libp2p node exits by itself", async () => {
  const delay = await exitDelayAfterStop([], HANG_MS);
  assert.ok(delay !== undefined, `the process was still running ${HANG_MS} ms after stop()`);
  console.log(`exited ${Math.round(delay)} ms after stop()`);
});

Deno.test("without the shims the same process does not exit by itself (why they exist)", async () => {
  const delay = await exitDelayAfterStop(["--without-shims"], HANG_MS);
  assert.equal(delay, undefined, "Deno now exits without the shims: they may be obsolete");
});
