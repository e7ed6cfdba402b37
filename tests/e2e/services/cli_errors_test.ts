// Bad input to the services commands: one `error:` line on stderr, exit code 1, no node.
import { loopbackFlags, runP2P } from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import { generateToken } from "../../../src/token/token.ts";

/** No token from the environment of the test run itself. */
const NO_TOKEN = { P2P_TOKEN: "", LOCALAI_P2P_TOKEN: "", TOKEN: "" };

/** Asserts a failed run: exit 1, nothing on stdout, one `error:` line naming `pattern`. */
function assertOneLineError(
  result: { code: number; stdout: string; stderr: string },
  pattern: RegExp,
): void {
  const context = `stderr:\n${result.stderr}`;
  assert.equal(result.code, 1, context);
  assert.equal(result.stdout, "", "nothing on stdout");
  // Exactly one line: no stack trace, and no node started (its log line would show).
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, context);
  assert.match(lines[0]!, /^error: /);
  assert.match(lines[0]!, pattern);
}

Deno.test("p2p expose --target nonsense fails with one error line before starting a node", async () => {
  const result = await runP2P(
    ["expose", "--target", "nonsense", "--service", "x", ...loopbackFlags()],
    { env: { ...NO_TOKEN, P2P_TOKEN: generateToken() } },
  );
  assertOneLineError(result, /^error: Cannot use --target "nonsense": expected HOST:PORT$/);
});

Deno.test("p2p worker without --target fails with one error line", async () => {
  const result = await runP2P(["worker", ...loopbackFlags()], {
    env: { ...NO_TOKEN, P2P_TOKEN: generateToken() },
  });
  assertOneLineError(result, /--target/);
});

Deno.test("p2p worker --target with a bad port fails with one error line", async () => {
  const result = await runP2P(["worker", "--target", "127.0.0.1:70000", ...loopbackFlags()], {
    env: { ...NO_TOKEN, P2P_TOKEN: generateToken() },
  });
  assertOneLineError(result, /^error: Cannot use --target "127\.0\.0\.1:70000"/);
});

Deno.test("p2p connect without a token fails with one error line", async () => {
  const result = await runP2P(["connect", "--service", "x", ...loopbackFlags()], {
    env: NO_TOKEN,
  });
  assertOneLineError(result, /^error: .*token/);
});

Deno.test("p2p connect --listen nonsense fails with one error line", async () => {
  const result = await runP2P(
    ["connect", "--service", "x", "--listen", "nonsense", ...loopbackFlags()],
    { env: { ...NO_TOKEN, P2P_TOKEN: generateToken() } },
  );
  assertOneLineError(result, /^error: Cannot use --listen "nonsense": expected HOST:PORT$/);
});
