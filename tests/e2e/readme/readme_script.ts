/**
 * Turns the README into one bash script that runs its blocks as written, in order.
 *
 * The conventions, which the README keeps:
 * - every ```sh and ```ts block runs, unless an HTML comment `<!-- readme-test: skip REASON -->`
 *   comes right before it;
 * - a ```ts block whose first line is `// NAME.ts…` is saved as NAME.ts (a later sh block runs
 *   it); any other ```ts block is saved and run with `deno run -A`;
 * - `# prints: TEXT` after a sh command, or `// prints: TEXT` after a ts line, means what that
 *   command (or that program) prints on stdout contains TEXT;
 * - each `## ` section starts with no background process of the previous one (the reader
 *   pressed Ctrl-C and moved on).
 *
 * @module
 */

/** One fenced block of the README. */
export interface ReadmeBlock {
  lang: "sh" | "ts";
  /** 1-based line of the opening fence. */
  line: number;
  /** The `## ` section it is in. */
  section: string;
  body: string;
  skip: string | undefined;
}

/** The sh and ts blocks of `markdown`, in order. */
export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split("\n");
  const blocks: ReadmeBlock[] = [];
  let section = "";
  let skip: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith("## ")) section = line.slice(3).trim();
    const marker = /^<!-- readme-test: skip (.+?) -->$/.exec(line.trim());
    if (marker !== null) {
      skip = marker[1];
      continue;
    }
    const fence = /^```(\w*)\s*$/.exec(line);
    if (fence === null) {
      if (line.trim() !== "") skip = undefined;
      continue;
    }
    const end = lines.findIndex((l, j) => j > i && l.startsWith("```"));
    if (end < 0) throw new Error(`README.md:${i + 1}: a fence that never closes`);
    const lang = fence[1];
    if (lang === "sh" || lang === "ts") {
      blocks.push({ lang, line: i + 1, section, body: lines.slice(i + 1, end).join("\n"), skip });
    }
    skip = undefined;
    i = end;
  }
  return blocks;
}

/** Quotes `text` for bash, single quotes. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

const PRELUDE = `set -euo pipefail
set -m
__expect() { # OUTPUT EXPECTED WHERE
  if [[ "$1" != *"$2"* ]]; then
    echo "README CHECK FAILED at $3: expected output containing: $2" >&2
    exit 1
  fi
}
__stop_background() {
  local pids; pids=$(jobs -p)
  for pid in $pids; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in $pids; do wait "$pid" 2>/dev/null || true; done
}
trap '__stop_background' EXIT
`;

/** The bash script that runs `blocks`; `where` names a line in messages. */
export function readmeScript(blocks: ReadmeBlock[], rewrite: (body: string) => string): string {
  const out = [PRELUDE];
  let section: string | undefined;
  let n = 0;
  for (const block of blocks) {
    if (block.skip !== undefined) continue;
    if (section !== undefined && block.section !== section) out.push("__stop_background");
    section = block.section;
    const where = `README.md:${block.line}`;
    out.push(`echo ${shellQuote(`=== ${where} (${block.section})`)} >&2`);
    const body = rewrite(block.body);
    if (block.lang === "sh") {
      out.push(
        ...body.split("\n").map((line, i) => shLine(line, `README.md:${block.line + 1 + i}`)),
      );
      continue;
    }
    const named = /^\/\/ ([\w.-]+\.ts)\b/.exec(body);
    const file = named?.[1] ?? `readme_block_${++n}.ts`;
    out.push(`cat > ${file} <<'__README_EOF__'\n${body}\n__README_EOF__`);
    if (named !== null) continue;
    out.push(`__out=$(deno run -A ${file}); printf '%s\\n' "$__out"`);
    for (const [i, line] of body.split("\n").entries()) {
      const expected = /\/\/ prints: (.+)$/.exec(line)?.[1];
      if (expected !== undefined) {
        out.push(
          `__expect "$__out" ${shellQuote(expected)} ${
            shellQuote(`README.md:${block.line + 1 + i}`)
          }`,
        );
      }
    }
  }
  return out.join("\n") + "\n";
}

function shLine(line: string, where: string): string {
  const match = /^(.*?)\s+# prints: (.+)$/.exec(line);
  if (match === null) return line;
  const command = match[1]!.trim();
  return `__out=$(${command}); printf '%s\\n' "$__out"; __expect "$__out" ${
    shellQuote(match[2]!)
  } ${shellQuote(where)}`;
}
