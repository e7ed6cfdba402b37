import assert from "node:assert/strict";
import { kadPrefixTable } from "../scripts/bundle.ts";
import { replacePrefixTable } from "../scripts/prefix_table.ts";

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

/** Imports every chunk of a bundle (the CLI's entry excepted) and prints how many WebAssembly
 * modules their loading compiled; with `--sources`, imports @libp2p/noise from the sources. */
const COUNT_WASM = `
let compiled = 0;
const counted = (target) => new Proxy(target, {
  construct(t, args) { compiled++; return Reflect.construct(t, args); },
  apply(t, self, args) { compiled++; return Reflect.apply(t, self, args); },
});
for (const name of ["Module", "Instance", "compile", "instantiate", "compileStreaming",
  "instantiateStreaming"]) WebAssembly[name] = counted(WebAssembly[name]);
const [dir] = Deno.args;
if (dir === "--sources") await import("@libp2p/noise");
else for (const entry of Deno.readDirSync(dir)) {
  if (entry.name.endsWith(".js") && entry.name !== "main.js") await import(dir + "/" + entry.name);
}
console.log(compiled);
`;

async function wasmCompiledLoading(target: string): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=js", COUNT_WASM, target],
    cwd: new URL("../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return Number(new TextDecoder().decode(out.stdout).trim());
}

Deno.test("scripts/bundle.ts: the bundle takes noise's WASM dependencies from the stand-ins, and compiles no WebAssembly", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "p2p-bundle-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", SCRIPT, "--outdir", outDir],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const files = (await Array.fromAsync(Deno.readDir(outDir))).map((e) => e.name);
    for (const standIn of ["as-chacha20poly1305.js", "as-sha256.js"]) {
      assert.ok(files.includes(standIn), `${standIn} beside the chunks`);
    }
    const chunks = await Promise.all(
      files.filter((f) => f.endsWith(".js")).map((f) => Deno.readTextFile(`${outDir}/${f}`)),
    );
    assert.ok(chunks.some((c) => c.includes(`from"./as-chacha20poly1305.js"`)));
    assert.ok(!chunks.some((c) => c.includes(`"@chainsafe/`)), "no import of the originals left");
    // kad-dht's prefix table is packed: no chunk holds it as an array literal any more.
    const table = await kadPrefixTable();
    assert.deepEqual(chunks.map((c) => replacePrefixTable(c, table).count), chunks.map(() => 0));
    assert.equal(chunks.filter((c) => c.includes("Uint8Array.fromBase64(")).length, 1);
    // The instrument works: the sources' @libp2p/noise compiles the originals' WebAssembly.
    assert.ok(await wasmCompiledLoading("--sources") > 0);
    assert.equal(await wasmCompiledLoading(outDir), 0);
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});
