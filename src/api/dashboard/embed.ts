/**
 * How the page embeds tested TypeScript functions: by their compiled source, inside a closure
 * that hands each one out under the name the page's scripts call it by. In the release bundle
 * the functions are minified: their own names, and the names they call each other by, are
 * short ones that could clash with the page's, so only the given names leave the closure.
 *
 * @module
 */

// deno-lint-ignore no-explicit-any -- any function, embedded by its source
type PageFunction = (...args: any[]) => unknown;

/**
 * Page JavaScript that declares each function of `fns` under its key.
 *
 * @param fns Self-contained functions (they may call each other, nothing else of the module).
 * @returns Script source: `const { a, b } = (() => { …sources…; return { a: …, b: … }; })();`
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { embedFunctions } from "./embed.ts";
 *
 * function double(n: number): number {
 *   return n * 2;
 * }
 * const run = new Function(`${embedFunctions({ twice: double })}\nreturn twice(21);`);
 * assert.equal(run(), 42);
 * ```
 */
export function embedFunctions(fns: Record<string, PageFunction>): string {
  const entries = Object.entries(fns);
  const sources = entries.map(([, fn]) => String(fn)).join("\n");
  const handed = entries.map(([name, fn]) => `${name}: ${fn.name}`).join(", ");
  return `const { ${entries.map(([name]) => name).join(", ")} } = (() => {\n${sources}\n` +
    `return { ${handed} };\n})();`;
}
