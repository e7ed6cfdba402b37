import assert from "node:assert/strict";
import { embedFunctions } from "../../../src/api/dashboard/embed.ts";

Deno.test("embedFunctions: minified functions (short names calling each other) run under the page's names", () => {
  // What esbuild's --minify makes of two module functions: `e` calls `t` by its short name.
  const minified = new Function(
    "function t(n) { return n + 1; }\nfunction e(n) { return t(n) * 2; }\nreturn [e, t];",
  )() as [(n: number) => number, (n: number) => number];
  const [twiceNext, next] = minified;
  const source = embedFunctions({ twiceNext, next });
  // The page's own top-level names may be the same short ones: no clash, no redeclaration.
  const page = new Function(
    `"use strict";\nconst e = "page's e";\nconst t = 1;\n${source}\nreturn [twiceNext(t), next(4), e];`,
  );
  assert.deepEqual(page(), [4, 5, "page's e"]);
});
