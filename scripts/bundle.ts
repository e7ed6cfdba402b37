/**
 * Builds the form of `p2p` that the release binaries ship: `main.ts` and its npm dependencies
 * bundled, minified and split per command (`deno bundle`), so a process holds only the code of
 * the command it runs. An idle node from the bundle holds about 25 MiB less RSS than one run
 * from the sources (README, Performance).
 *
 * ```sh
 * deno task bundle                 # → dist/bundle/main.js (+ chunks)
 * deno run -A scripts/bundle.ts --outdir /tmp/p2p-bundle
 * deno run -A dist/bundle/main.js --version
 * ```
 *
 * One dependency reads its own package.json at run time through `createRequire` (which a
 * bundle cannot follow): the read is replaced by the values, and the build fails if any other
 * such read is left.
 *
 * Two dependencies are left out and replaced by stand-ins of ours (`scripts/stand_ins/`, copied
 * beside the chunks): `@libp2p/noise` imports them for its small-message cipher and compiles
 * their WebAssembly when they load, which cost every process about 3 MiB of RSS (README,
 * Performance). The build fails if an import of either is left, or if none was found.
 *
 * kad-dht's table of 65,536 key prefixes is packed (`prefix_table.ts`): about 0.7 MiB less in
 * every process that loads the DHT. The build fails unless it replaced exactly one table.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { readPrefixTable, replacePrefixTable } from "./prefix_table.ts";

const ROOT = new URL("../", import.meta.url);

/** A dependency that reads its own package.json with a `createRequire`d `require`. */
interface PackageJsonRead {
  /** The npm package name, as in its package.json. */
  name: string;
  /** The path it requires, relative to its own module. */
  path: string;
}

const PACKAGE_JSON_READS: readonly PackageJsonRead[] = [
  // Its SSDP signature carries its name and version.
  { name: "@achingbrain/ssdp", path: "../../package.json" },
];

/** A dependency that the bundle takes from `scripts/stand_ins/` instead of npm. */
interface StandIn {
  /** The npm package name, as imported. */
  name: string;
  /** The stand-in module in `scripts/stand_ins/`, copied under the same name beside the chunks. */
  file: string;
}

const STAND_INS: readonly StandIn[] = [
  // @libp2p/noise compiles the WebAssembly of both when it loads, whatever cipher a node uses.
  { name: "@chainsafe/as-chacha20poly1305", file: "as-chacha20poly1305.js" },
  { name: "@chainsafe/as-sha256", file: "as-sha256.js" },
];

/** A `require("<relative>.json")` left in the output: it would resolve against the bundle. */
// Identifiers may start with `$`, where `\b` does not match: a lookbehind takes the whole name.
const RELATIVE_JSON_REQUIRE = /(?<![\w$])[\w$]+\("\.\.?\/[^"]*\.json"\)/g;

/** The `deno bundle` arguments of the shipped build. */
export function bundleArgs(outDir: string): string[] {
  return [
    "bundle",
    "--quiet",
    "--frozen",
    "--platform",
    "deno",
    // Not --keep-names: with it, deno bundle 2.9.6 emits chunks whose require of node:
    // builtins throws at run time. Errors keep their names: they set `name` explicitly.
    "--minify",
    "--code-splitting",
    ...STAND_INS.flatMap(({ name }) => ["--external", name]),
    "--outdir",
    outDir,
    new URL("main.ts", ROOT).pathname,
  ];
}

/** The installed directory of `name` (a transitive npm dependency). */
async function installedPackage(name: string): Promise<URL> {
  const store = new URL("node_modules/.deno/", ROOT);
  const prefix = `${name.replace("/", "+")}@`;
  const found: string[] = [];
  for await (const entry of Deno.readDir(store)) {
    if (entry.isDirectory && entry.name.startsWith(prefix)) found.push(entry.name);
  }
  if (found.length !== 1) {
    throw new Error(
      `Cannot bundle: expected one installed ${name}, found ${found.length} (run deno install)`,
    );
  }
  return new URL(`${found[0]}/node_modules/${name}/`, store);
}

/** The installed package.json of `name` (a transitive npm dependency). */
async function installedPackageJson(name: string): Promise<{ name: string; version: string }> {
  const file = new URL("package.json", await installedPackage(name));
  const json = JSON.parse(await Deno.readTextFile(file));
  return { name: String(json.name), version: String(json.version) };
}

/** The entries of kad-dht's prefix table, from the installed package. */
export async function kadPrefixTable(): Promise<number[]> {
  const file = new URL(
    "dist/src/routing-table/generated-prefix-list.js",
    await installedPackage("@libp2p/kad-dht"),
  );
  return readPrefixTable(await Deno.readTextFile(file));
}

/** A known package.json read, and the JSON text that replaces it. */
interface Replacement {
  call: RegExp;
  json: string;
}

/** The replacement of each known package.json read, from the installed packages. */
function replacements(): Promise<Replacement[]> {
  return Promise.all(PACKAGE_JSON_READS.map(async (read) => ({
    call: new RegExp(`(?<![\\w$])[\\w$]+\\("${read.path.replaceAll(".", "\\.")}"\\)`, "g"),
    json: JSON.stringify(await installedPackageJson(read.name)),
  })));
}

/** Replaces each known package.json read in `code`; returns the code and how many it replaced. */
function inlinePackageJsonReads(
  code: string,
  known: readonly Replacement[],
): { code: string; count: number } {
  let count = 0;
  for (const { call, json } of known) {
    code = code.replace(call, () => {
      count++;
      return json;
    });
  }
  return { code, count };
}

/** An import of `name` in bundled code: `from"name"`, `import"name"` or `import("name")`. */
function importOf(name: string): RegExp {
  const escaped = name.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  return new RegExp(`(?<=\\b(?:from|import)\\s*\\(?\\s*)"${escaped}"`, "g");
}

/** Points each import of a stand-in's package at the stand-in; returns the code and the count. */
function importStandIns(code: string): { code: string; count: Map<string, number> } {
  const count = new Map<string, number>();
  for (const { name, file } of STAND_INS) {
    code = code.replace(importOf(name), () => {
      count.set(name, (count.get(name) ?? 0) + 1);
      return JSON.stringify(`./${file}`);
    });
  }
  return { code, count };
}

/** Copies each stand-in module beside the chunks. */
async function copyStandIns(outDir: string): Promise<void> {
  for (const { file } of STAND_INS) {
    await Deno.copyFile(new URL(`scripts/stand_ins/${file}`, ROOT), `${outDir}/${file}`);
  }
}

/**
 * Bundles `main.ts` into `outDir` and patches the output.
 *
 * @param outDir The directory to write (created; the `.js` files of an earlier build removed).
 * @returns The entry file to run: `<outDir>/main.js`.
 */
export async function bundle(outDir: string): Promise<string> {
  await Deno.mkdir(outDir, { recursive: true });
  for await (const entry of Deno.readDir(outDir)) {
    if (entry.isFile && entry.name.endsWith(".js")) await Deno.remove(`${outDir}/${entry.name}`);
  }
  const out = await new Deno.Command(Deno.execPath(), {
    args: bundleArgs(outDir),
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`Cannot bundle: deno bundle failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  const known = await replacements();
  const prefixTable = await kadPrefixTable();
  let packedTables = 0;
  let replaced = 0;
  const standIns = new Map<string, number>();
  for await (const entry of Deno.readDir(outDir)) {
    if (!entry.isFile || !entry.name.endsWith(".js")) continue;
    const path = `${outDir}/${entry.name}`;
    const original = await Deno.readTextFile(path);
    const patched = inlinePackageJsonReads(original, known);
    const left = patched.code.match(RELATIVE_JSON_REQUIRE);
    if (left !== null) {
      throw new Error(`Cannot bundle: ${entry.name} still requires ${left.join(", ")}`);
    }
    const imported = importStandIns(patched.code);
    for (const { name } of STAND_INS) {
      if (imported.code.includes(`"${name}"`)) {
        throw new Error(
          `Cannot bundle: ${entry.name} still imports ${name} in a form not replaced`,
        );
      }
      standIns.set(name, (standIns.get(name) ?? 0) + (imported.count.get(name) ?? 0));
    }
    const packed = replacePrefixTable(imported.code, prefixTable);
    packedTables += packed.count;
    if (packed.code !== original) await Deno.writeTextFile(path, packed.code);
    replaced += patched.count;
  }
  if (replaced !== PACKAGE_JSON_READS.length) {
    throw new Error(
      `Cannot bundle: replaced ${replaced} package.json reads, expected ${PACKAGE_JSON_READS.length} (did a dependency change?)`,
    );
  }
  if (packedTables !== 1) {
    throw new Error(
      `Cannot bundle: packed ${packedTables} kad-dht prefix tables, expected 1 (did a dependency change?)`,
    );
  }
  for (const [name, count] of standIns) {
    if (count === 0) {
      throw new Error(`Cannot bundle: no import of ${name} to replace (did a dependency change?)`);
    }
  }
  await copyStandIns(outDir);
  const entry = `${outDir}/main.js`;
  await analyze(entry);
  return entry;
}

/**
 * Has Deno analyze the bundle's module graph once (`deno cache`), as a compiled binary has it
 * analyzed at build time. Otherwise the first `deno run` of each new bundle parses its 2 MB
 * while the node starts, and that process keeps about 50 MiB more RSS (measured) to its end.
 */
async function analyze(entry: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["cache", "--quiet", entry],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`Cannot bundle: deno cache failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

if (import.meta.main) {
  try {
    const { values } = parseArgs({
      args: Deno.args,
      options: { outdir: { type: "string", default: new URL("dist/bundle", ROOT).pathname } },
    });
    console.log(await bundle(values.outdir));
  } catch (err) {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    Deno.exit(1);
  }
}
