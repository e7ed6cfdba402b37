// Private: how Go's gopkg.in/yaml.v2 writes a string value of a block mapping.
//
// Ported from yaml.v2 `encode.go` (`stringv`), `resolve.go` (`resolve`, `isBase60Float`) and
// `emitterc.go` (`analyze_scalar`, `select_scalar_style`, the scalar writers), with the emitter
// settings yaml.v2 uses: unicode output, indent 2, line width 80, block context.

const BEST_WIDTH = 80;
const BEST_INDENT = 2;

const BREAKS: ReadonlySet<string> = new Set(["\r", "\n", "\u0085", "\u2028", "\u2029"]);

/** Plain scalars that yaml.v2 resolves to bool, null, float or merge (`resolveMap`). */
const RESOLVE_MAP: ReadonlySet<string> = new Set([
  ...["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"],
  ...["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"],
  ...["", "~", "null", "Null", "NULL"],
  ...[".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"],
  ...["-.inf", "-.Inf", "-.INF", "<<"],
]);

const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const DOT_FLOAT = /^\.[0-9]+([eE][-+]?[0-9]+)?$/;
const BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;
const GO_INT = /^([-+]?)(0[bB][01]+|0[oO][0-7]+|0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/;
const TIMESTAMP =
  /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:([Tt ])([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,][0-9]+)?(Z|[-+][0-9]{2}:[0-9]{2})?)?$/;

const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * Renders `value` the way yaml.v2 writes a string field of a block mapping, starting right after
 * the key's `:`. The result has no final line break unless the scalar itself ends with one.
 *
 * @param value The string to write.
 * @param indent The indentation of the scalar (the mapping's indentation plus 2).
 * @param column The column right after the key's `:`.
 * @returns The text to write after the `:`.
 */
export function goYamlString(value: string, indent: number, column: number): string {
  const chars = Array.from(value);
  const analysis = analyzeScalar(chars);
  let style: "plain" | "single" | "double" | "literal" = value.includes("\n")
    ? "literal"
    : resolvesToString(value) && !BASE60_FLOAT.test(value)
    ? "plain"
    : "double";
  if (style === "plain" && !analysis.plainAllowed) style = "single";
  if (style === "single" && !analysis.singleQuotedAllowed) style = "double";
  if (style === "literal" && !analysis.blockAllowed) style = "double";
  const writer = new ScalarWriter(indent, column);
  switch (style) {
    case "plain":
      return writer.plain(chars);
    case "single":
      return writer.singleQuoted(chars);
    case "double":
      return writer.doubleQuoted(chars);
    case "literal":
      return writer.literal(chars);
  }
}

/** Whether a string needs a trailing line break after {@linkcode goYamlString}. */
export function endsLine(text: string): boolean {
  return BREAKS.has(text.at(-1) ?? "");
}

interface ScalarAnalysis {
  plainAllowed: boolean;
  singleQuotedAllowed: boolean;
  blockAllowed: boolean;
}

function isPrintable(ch: string): boolean {
  const cp = ch.codePointAt(0) ?? 0;
  return cp === 0x0a || (cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff);
}

function isBlank(ch: string | undefined): boolean {
  return ch === " " || ch === "\t";
}

/** `yaml_emitter_analyze_scalar`, block context only. */
function analyzeScalar(chars: readonly string[]): ScalarAnalysis {
  if (chars.length === 0) {
    return { plainAllowed: true, singleQuotedAllowed: true, blockAllowed: false };
  }
  const head = chars.slice(0, 3).join("");
  let blockIndicators = head === "---" || head === "...";
  let lineBreaks = false;
  let special = false;
  let breakSpace = false;
  let spaceBreak = false;
  let precededByWhitespace = true;
  let previousSpace = false;
  let previousBreak = false;
  const last = chars.length - 1;
  chars.forEach((ch, i) => {
    const followedByWhitespace = i === last || isBlank(chars[i + 1]);
    if (i === 0) {
      if ("#,[]{}&*!|>'\"%@`".includes(ch)) blockIndicators = true;
      if ((ch === "?" || ch === ":" || ch === "-") && followedByWhitespace) blockIndicators = true;
    } else if ((ch === ":" && followedByWhitespace) || (ch === "#" && precededByWhitespace)) {
      blockIndicators = true;
    }
    if (!isPrintable(ch)) special = true;
    if (ch === " ") {
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (BREAKS.has(ch)) {
      lineBreaks = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = isBlank(ch) || BREAKS.has(ch) || ch === "\0";
  });
  const first = chars[0] ?? "";
  const final = chars[last] ?? "";
  const edgeSpace = first === " " || BREAKS.has(first) || final === " " || BREAKS.has(final);
  const broken = spaceBreak || special;
  return {
    plainAllowed: !edgeSpace && !breakSpace && !broken && !lineBreaks && !blockIndicators,
    singleQuotedAllowed: !breakSpace && !broken,
    blockAllowed: final !== " " && !broken,
  };
}

/** Whether yaml.v2's `resolve("", value)` keeps `value` a string when written plain. */
function resolvesToString(value: string): boolean {
  const first = value[0];
  const hint = first === undefined
    ? "N"
    : "+-".includes(first)
    ? "S"
    : first >= "0" && first <= "9"
    ? "D"
    : "yYnNtTfFoO~".includes(first)
    ? "M"
    : first === "."
    ? "."
    : "";
  if (hint === "") return true;
  if (RESOLVE_MAP.has(value)) return false;
  if (hint === "M") return true;
  if (hint === ".") return !(DOT_FLOAT.test(value) && Number.isFinite(Number(value)));
  if (isTimestamp(value)) return false;
  const plain = value.replaceAll("_", "");
  if (isGoInt(plain)) return false;
  if (YAML_FLOAT.test(plain) && Number.isFinite(Number(plain))) return false;
  if (plain.startsWith("0b")) return !isGoBinary(plain.slice(2), true);
  if (plain.startsWith("-0b")) return !isGoBinary(`-${plain.slice(3)}`, false);
  return true;
}

/** Go `strconv.ParseInt(s, 0, 64)` or `strconv.ParseUint(s, 0, 64)` succeeds. */
function isGoInt(text: string): boolean {
  const match = GO_INT.exec(text);
  if (match === null) return false;
  const [, sign = "", digits = ""] = match;
  const octal = /^0[0-7]+$/.test(digits);
  return inRange(sign, BigInt(octal ? `0o${digits.slice(1)}` : digits));
}

/** Go `strconv.ParseInt(s, 2, 64)` (or, if `unsigned`, also `ParseUint`) succeeds. */
function isGoBinary(text: string, unsigned: boolean): boolean {
  const match = /^([-+]?)([01]+)$/.exec(text);
  if (match === null) return false;
  const [, sign = "", digits = ""] = match;
  const value = BigInt(`0b${digits}`);
  return inRange(sign, value) || (unsigned && sign === "" && value <= UINT64_MAX);
}

function inRange(sign: string, magnitude: bigint): boolean {
  if (sign === "-") return magnitude <= INT64_MAX + 1n;
  if (sign === "+") return magnitude <= INT64_MAX;
  return magnitude <= UINT64_MAX;
}

/** yaml.v2 `parseTimestamp`: the layouts Go's `time.Parse` accepts there. */
function isTimestamp(value: string): boolean {
  const match = TIMESTAMP.exec(value);
  if (match === null) return false;
  const [, year = "", month = "", day = "", separator, hour = "0", minute = "0", second = "0"] =
    match;
  const zone = match[8];
  if (separator !== undefined && (separator === " ") !== (zone === undefined)) return false;
  const y = Number(year);
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][Number(month) - 1];
  return days !== undefined && Number(day) >= 1 && Number(day) <= days && Number(hour) <= 23 &&
    Number(minute) <= 59 && Number(second) <= 59;
}

/** The yaml.v2 scalar writers, tracking the output column for line folding. */
class ScalarWriter {
  #indent: number;
  #column: number;
  #out = "";

  constructor(indent: number, column: number) {
    this.#indent = indent;
    this.#column = column;
  }

  plain(chars: readonly string[]): string {
    this.#put(" ");
    let spaces = false;
    chars.forEach((ch, i) => {
      if (ch === " ") {
        if (!spaces && this.#column > BEST_WIDTH && chars[i + 1] !== " ") this.#fold();
        else this.#put(ch);
        spaces = true;
      } else {
        this.#put(ch);
        spaces = false;
      }
    });
    return this.#out;
  }

  singleQuoted(chars: readonly string[]): string {
    this.#put(" ");
    this.#put("'");
    let spaces = false;
    let breaks = false;
    const last = chars.length - 1;
    chars.forEach((ch, i) => {
      if (ch === " ") {
        const inside = i > 0 && i < last && chars[i + 1] !== " ";
        if (!spaces && this.#column > BEST_WIDTH && inside) this.#fold();
        else this.#put(ch);
        spaces = true;
      } else if (BREAKS.has(ch)) {
        if (!breaks && ch === "\n") this.#break("\n");
        this.#break(ch);
        breaks = true;
      } else {
        if (breaks) this.#pad();
        if (ch === "'") this.#put("'");
        this.#put(ch);
        spaces = false;
        breaks = false;
      }
    });
    this.#put("'");
    return this.#out;
  }

  doubleQuoted(chars: readonly string[]): string {
    this.#put(" ");
    this.#put('"');
    let spaces = false;
    const last = chars.length - 1;
    chars.forEach((ch, i) => {
      if (!isPrintable(ch) || BREAKS.has(ch) || ch === '"' || ch === "\\") {
        for (const c of escape(ch)) this.#put(c);
        spaces = false;
      } else if (ch === " ") {
        if (!spaces && this.#column > BEST_WIDTH && i > 0 && i < last) {
          this.#fold();
          if (chars[i + 1] === " ") this.#put("\\");
        } else {
          this.#put(ch);
        }
        spaces = true;
      } else {
        this.#put(ch);
        spaces = false;
      }
    });
    this.#put('"');
    return this.#out;
  }

  literal(chars: readonly string[]): string {
    this.#put(" ");
    this.#put("|");
    const first = chars[0] ?? "";
    if (first === " " || BREAKS.has(first)) this.#put(String(BEST_INDENT));
    const last = chars.at(-1) ?? "";
    const beforeLast = chars.at(-2);
    if (!BREAKS.has(last)) this.#put("-");
    else if (beforeLast === undefined || BREAKS.has(beforeLast)) this.#put("+");
    this.#break("\n");
    let breaks = true;
    for (const ch of chars) {
      if (BREAKS.has(ch)) {
        this.#break(ch);
        breaks = true;
      } else {
        if (breaks) this.#pad();
        this.#put(ch);
        breaks = false;
      }
    }
    return this.#out;
  }

  #put(ch: string): void {
    this.#out += ch;
    this.#column += 1;
  }

  #break(ch: string): void {
    this.#out += ch;
    this.#column = 0;
  }

  #pad(): void {
    while (this.#column < this.#indent) this.#put(" ");
  }

  #fold(): void {
    this.#break("\n");
    this.#pad();
  }
}

/** yaml.v2 double-quoted escape of one character. */
function escape(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  const short: Record<number, string> = {
    0x00: "0",
    0x07: "a",
    0x08: "b",
    0x09: "t",
    0x0a: "n",
    0x0b: "v",
    0x0c: "f",
    0x0d: "r",
    0x1b: "e",
    0x22: '"',
    0x5c: "\\",
    0x85: "N",
    0xa0: "_",
    0x2028: "L",
    0x2029: "P",
  };
  const named = short[cp];
  if (named !== undefined) return `\\${named}`;
  const hex = cp.toString(16).toUpperCase();
  if (cp <= 0xff) return `\\x${hex.padStart(2, "0")}`;
  if (cp <= 0xffff) return `\\u${hex.padStart(4, "0")}`;
  return `\\U${hex.padStart(8, "0")}`;
}
