// The README's Development section promises a layered tree: "each layer imports only the ones
// below it", in the order of its layout map. This reads that map and checks every relative
// import (static and dynamic) under src/ against it.
import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = new URL("../", import.meta.url).pathname;
const SRC = join(ROOT, "src");

/** The layers in the README's layout map, lowest first. */
function layersFromReadme(): string[] {
  const readme = Deno.readTextFileSync(join(ROOT, "README.md"));
  const start = readme.indexOf("**Layout.**");
  assert.ok(start >= 0, "README has no **Layout.** paragraph");
  const open = readme.indexOf("```\n", start) + 4;
  const close = readme.indexOf("```", open);
  const layers: string[] = [];
  for (const line of readme.slice(open, close).split("\n")) {
    const name = /^([a-z]+)\s{2,}/.exec(line)?.[1];
    if (name !== undefined) layers.push(name);
  }
  return layers;
}

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

/** Relative module specifiers of `text`: `from "./x"`, `import "./x"`, `import("./x")`. */
function relativeImports(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
    found.push(match[1]!);
  }
  return found;
}

/** The layer a path under src/ belongs to (its first folder). */
function layerOf(path: string): string {
  return relative(SRC, path).split("/")[0]!;
}

Deno.test("the README's layout map names every folder of src/, once", () => {
  const layers = layersFromReadme();
  const folders = [...Deno.readDirSync(SRC)].filter((e) => e.isDirectory).map((e) => e.name);
  assert.deepEqual([...layers].sort(), folders.sort());
  assert.equal(new Set(layers).size, layers.length);
});

Deno.test("each layer of src/ imports only itself and the layers below it", () => {
  const layers = layersFromReadme();
  const rank = new Map(layers.map((name, i) => [name, i]));
  const violations: string[] = [];
  let imports = 0;
  for (const file of sourceFiles(SRC)) {
    const from = layerOf(file);
    for (const specifier of relativeImports(Deno.readTextFileSync(file))) {
      imports++;
      const target = normalize(join(dirname(file), specifier));
      const where = relative(ROOT, file);
      if (!target.startsWith(SRC)) {
        violations.push(`${where} imports ${specifier}, outside src/`);
        continue;
      }
      const to = layerOf(target);
      if ((rank.get(to) ?? Infinity) > (rank.get(from) ?? -1)) {
        violations.push(`${where} (${from}) imports ${specifier} (${to}, a higher layer)`);
      }
    }
  }
  assert.ok(imports > 100, `only ${imports} relative imports found: the scan is broken`);
  assert.deepEqual(violations, []);
});
