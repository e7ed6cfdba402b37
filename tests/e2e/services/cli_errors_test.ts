// Bad input to the services commands: one `error:` line on stderr, exit code 1, no node.
import { assertCliError, loopbackFlags, runP2P } from "../../_helpers/mod.ts";
import { generateToken } from "../../../src/token/token.ts";

/** No token from the environment of the test run itself. */
const NO_TOKEN = { P2P_TOKEN: "", LOCALAI_P2P_TOKEN: "", TOKEN: "" };

Deno.test("p2p expose --target nonsense fails with one error line before starting a node", async () => {
  const result = await runP2P(
    ["expose", "--target", "nonsense", "--service", "x", ...loopbackFlags()],
    { env: { ...NO_TOKEN, P2P_TOKEN: generateToken() } },
  );
  assertCliError(result, /^error: Cannot use --target "nonsense": expected HOST:PORT$/);
});

Deno.test("p2p worker without --target fails with one error line", async () => {
  const result = await runP2P(["worker", ...loopbackFlags()], {
    env: { ...NO_TOKEN, P2P_TOKEN: generateToken() },
  });
  assertCliError(result, /--target/);
});

Deno.test("p2p worker --target with a bad port fails with one error line", async () => {
  const result = await runP2P(["worker", "--target", "127.0.0.1:70000", ...loopbackFlags()], {
    env: { ...NO_TOKEN, P2P_TOKEN: generateToken() },
  });
  assertCliError(result, /^error: Cannot use --target "127\.0\.0\.1:70000"/);
});

Deno.test("p2p connect without a token fails with one error line", async () => {
  const result = await runP2P(["connect", "--service", "x", ...loopbackFlags()], {
    env: NO_TOKEN,
  });
  assertCliError(result, /^error: .*token/);
});

Deno.test("p2p connect --listen nonsense fails with one error line", async () => {
  const result = await runP2P(
    ["connect", "--service", "x", "--listen", "nonsense", ...loopbackFlags()],
    { env: { ...NO_TOKEN, P2P_TOKEN: generateToken() } },
  );
  assertCliError(result, /^error: Cannot use --listen "nonsense": expected HOST:PORT$/);
});

Deno.test("p2p connect --listen on a port in use: one error line naming flag and address", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const address = `127.0.0.1:${(taken.addr as Deno.NetAddr).port}`;
    const result = await runP2P(
      ["connect", "--service", "x", "--listen", address, ...loopbackFlags()],
      { env: { ...NO_TOKEN, P2P_TOKEN: generateToken() } },
    );
    // The node started (and logged) before the listener: the error names flag and address.
    assertCliError(
      result,
      new RegExp(`^error: Cannot listen on --listen "${address}": the address is already in use$`),
      { afterStart: true },
    );
  } finally {
    taken.close();
  }
});
