// Every relative link of the project's markdown (README.md, bench/README.md, docs/*.md) must
// resolve: the file it names exists, and an anchor into a markdown file names one of its headings,
// by GitHub's rule for heading ids.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";

const ROOT = new URL("../", import.meta.url).pathname;

function markdownFiles(): string[] {
  const files = [join(ROOT, "README.md"), join(ROOT, "bench", "README.md")];
  for (const entry of Deno.readDirSync(join(ROOT, "docs"))) {
    if (entry.isFile && entry.name.endsWith(".md")) files.push(join(ROOT, "docs", entry.name));
  }
  return files.sort();
}

/** The text with the lines of fenced code blocks emptied. */
function outsideFences(text: string): string {
  const out: string[] = [];
  let fence: string | undefined;
  for (const line of text.split("\n")) {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence !== undefined) {
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length) {
        fence = undefined;
      }
      out.push("");
    } else if (marker !== undefined) {
      fence = marker;
      out.push("");
    } else {
      out.push(line);
    }
  }
  return out.join("\n");
}

/** The text outside fenced code blocks, with inline code spans blanked. */
function prose(text: string): string {
  // A code span may wrap a line but not a paragraph; its newlines are kept so lines stay lines.
  return outsideFences(text).replace(
    /(`+)(?:(?!\n\n)[^`])*?\1/g,
    (span) => span.replace(/[^\n]/g, " "),
  );
}

/** GitHub's heading id: lowercase, only letters, digits, `_`, spaces and hyphens; spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** The anchors of a markdown file's headings, repeats suffixed `-1`, `-2`, … as GitHub does. */
function anchors(text: string): Set<string> {
  const found = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of outsideFences(text).split("\n")) {
    const title = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line)?.[1];
    if (title === undefined) continue;
    const base = slug(title);
    const count = seen.get(base);
    seen.set(base, (count ?? -1) + 1);
    found.add(count === undefined ? base : `${base}-${count + 1}`);
  }
  return found;
}

/** Link destinations: inline `](dest)` and reference definitions `[label]: dest`. */
function links(text: string): string[] {
  const body = prose(text);
  const found: string[] = [];
  for (const match of body.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) {
    found.push(match[1]!);
  }
  for (const match of body.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)) {
    found.push(match[1]!);
  }
  return found;
}

function isExternal(link: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(link) || link.startsWith("//");
}

const anchorCache = new Map<string, Set<string>>();

function anchorsOf(path: string): Set<string> {
  let found = anchorCache.get(path);
  if (found === undefined) {
    found = anchors(Deno.readTextFileSync(path));
    anchorCache.set(path, found);
  }
  return found;
}

/** The broken relative links of one markdown file, as `file: link`. */
function brokenLinks(file: string): string[] {
  const broken: string[] = [];
  const name = relative(ROOT, file);
  for (const link of links(Deno.readTextFileSync(file))) {
    if (link === "" || isExternal(link)) continue;
    const hash = link.indexOf("#");
    const path = decodeURIComponent(hash < 0 ? link : link.slice(0, hash));
    const anchor = hash < 0 ? undefined : decodeURIComponent(link.slice(hash + 1));
    const target = path === "" ? file : join(dirname(file), path);
    if (!existsSync(target)) {
      broken.push(`${name}: ${link}`);
    } else if (anchor !== undefined && target.endsWith(".md") && !anchorsOf(target).has(anchor)) {
      broken.push(`${name}: ${link}`);
    }
  }
  return broken;
}

Deno.test("slug: GitHub's heading ids", () => {
  assert.equal(slug("Round 2 (issue 18): against `ssh -L`"), "round-2-issue-18-against-ssh--l");
  assert.equal(
    slug("kad-dht's prefix table packed (since 2026-12-06, last)"),
    "kad-dhts-prefix-table-packed-since-2026-12-06-last",
  );
  assert.equal(slug("Bulk ÷ `ssh -L` × 2, done."), "bulk--ssh--l--2-done");
  assert.deepEqual(
    [...anchors("# A\n\n```\n# not a heading\n```\n\n## A\n### A\n## B ##\n")],
    ["a", "a-1", "a-2", "b"],
  );
});

Deno.test("links: inline and reference links outside code", () => {
  const text =
    '[a](x.md#y) `[b](not.md)` [c](<z.md> "t")\n```\n[d](in-code.md)\n```\n[e]: r.md#s\n';
  assert.deepEqual(links(text), ["x.md#y", "z.md", "r.md#s"]);
});

Deno.test("every relative link of the markdown resolves", () => {
  const files = markdownFiles();
  assert.ok(files.some((file) => file.endsWith("docs/performance-history.md")));
  const broken = files.flatMap(brokenLinks);
  assert.deepEqual(broken, [], `broken links:\n${broken.join("\n")}`);
});
