// Fuzz target: the token decoder. Inputs: random text, random base64, mutated valid tokens
// (base64 text and the YAML inside), YAML with hostile values (anchors, aliases, tags, merge
// keys, huge numbers, nesting, multi-documents), and random token configs pushed through the
// encoder. Properties: decodeToken throws nothing but InvalidTokenError; a decoded token
// satisfies the documented invariants; everything a node derives from it at start (topic, seal
// key, rendezvous, inspection, the fingerprint of its re-encoding) works; and an encoded token
// decodes back to itself.
import { Buffer } from "node:buffer";
import { isDeepStrictEqual } from "node:util";
import { inspectToken } from "../../src/token/derive.ts";
import { InvalidTokenError } from "../../src/token/errors.ts";
import {
  decodeToken,
  encodeToken,
  generateTokenConfig,
  type NetworkToken,
} from "../../src/token/token.ts";
import { FuzzFailure, type FuzzTarget } from "./_harness.ts";
import { mutateText, type Rng } from "./_rng.ts";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** YAML scalars and fragments that parsers treat specially. */
const HOSTILE_VALUES = [
  "",
  "~",
  "null",
  "true",
  "0",
  "-1",
  "+30",
  "0x1e",
  "0o17",
  "1_000",
  "30.0",
  "3e1",
  ".inf",
  "-.inf",
  ".nan",
  "99999999999999999999999999",
  "9007199254740993",
  "44",
  "45",
  "1:30",
  "2001-12-14t21:59:43.10-05:00",
  "!!binary aGVsbG8=",
  "!!int 30",
  "!!str 30",
  "!<tag:yaml.org,2002:str> x",
  "!custom x",
  "&a x",
  "*a",
  "*undefined",
  "[1, 2]",
  "{a: 1}",
  "[]",
  "{}",
  "|\n      literal\n      block",
  ">-\n      folded",
  '"double \\u0000 \\x41 \\U0001F600"',
  '"unterminated',
  "'single ''quoted'''",
  "<<",
  "? complex",
  "- item",
  "\t",
  "a: b",
  "#comment",
  "x #comment",
  "@reserved",
  "`reserved",
  "%",
  "\u00a0",
  "\ufeff",
  "\u2028",
];

const FIELDS = ["otp", "dht", "crypto", "interval", "key", "length", "room", "rendezvous", "mdns"];

/** YAML whose shape is a token but whose values and structure are hostile. */
function hostileYaml(rng: Rng): string {
  const value = (): string =>
    rng.chance(0.6) ? rng.pick(HOSTILE_VALUES) : rng.string(rng.size(60), ALNUM);
  const lines = [
    "otp:",
    "  dht:",
    `    interval: ${value()}`,
    `    key: ${value()}`,
    `    length: ${value()}`,
    "  crypto:",
    `    interval: ${value()}`,
    `    key: ${value()}`,
    `    length: ${value()}`,
    `room: ${value()}`,
    `rendezvous: ${value()}`,
    `mdns: ${value()}`,
    `max_message_size: ${value()}`,
  ];
  const extras = [
    "---",
    "...",
    "%YAML 1.1",
    "%TAG ! tag:example.com,2000:",
    "<<: {room: merged}",
    "room: duplicate",
    `${rng.pick(FIELDS)}: &anchor ${value()}`,
    `${rng.pick(FIELDS)}: *anchor`,
    "otp: !!map {dht: {interval: 1, key: k, length: 1}, crypto: {interval: 1, key: k, length: 1}}",
    "? [complex, key]\n: value",
    "__proto__: {polluted: true}",
    "constructor: x",
  ];
  for (let n = rng.int(3); n > 0; n--) {
    lines.splice(rng.int(lines.length + 1), 0, rng.pick(extras));
  }
  return lines.join(rng.chance(0.1) ? "\r\n" : "\n");
}

/** An alias bomb ("billion laughs"), bounded in size. */
function aliasBomb(rng: Rng): string {
  const depth = rng.range(2, 12);
  const lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < depth; i++) {
    lines.push(`a${i}: &a${i} [*a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}]`);
  }
  lines.push(`room: *a${depth - 1}`);
  return lines.join("\n");
}

function deepNesting(rng: Rng): string {
  // Deeper nesting costs the YAML parser quadratic time (5000 levels: ~0.3 s); rare here.
  const depth = rng.chance(0.02) ? rng.range(1000, 3000) : rng.range(10, 200);
  return rng.chance(0.5)
    ? `room: ${"[".repeat(depth)}${"]".repeat(depth)}`
    : `room: ${"{a: ".repeat(depth)}x${"}".repeat(depth)}`;
}

function randomTokenConfig(rng: Rng): NetworkToken {
  const secret = (): string =>
    rng.chance(0.5) ? rng.string(rng.size(60), ALNUM) : rng.unicode(rng.size(40));
  // Mostly valid numbers (so most configs encode), sometimes out of range.
  const interval = (): number =>
    rng.chance(0.9)
      ? rng.pick([1, 30, 9000, Number.MAX_SAFE_INTEGER, rng.range(1, 1e6)])
      : rng.pick([0, -1, 1.5, 2 ** 53, NaN]);
  const length = (): number =>
    rng.chance(0.9) ? rng.pick([1, 43, 44, rng.range(1, 44)]) : rng.pick([0, 45, 2.5]);
  return {
    otp: {
      dht: { key: secret(), interval: interval(), length: length() },
      crypto: { key: secret(), interval: interval(), length: length() },
    },
    room: secret(),
    rendezvous: secret(),
    mdns: secret(),
    maxMessageSize: rng.chance(0.9)
      ? rng.pick([20971520, 1, Number.MAX_SAFE_INTEGER, rng.range(1, 1e9)])
      : rng.pick([0, -5, 1.5]),
  };
}

const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");

/** The input of one case and what kind it is. */
function generate(
  rng: Rng,
  valid: { text: string; yaml: string },
): [string, string, NetworkToken?] {
  switch (rng.int(10)) {
    case 0:
      return [
        "random-text",
        rng.chance(0.5)
          ? rng.unicode(rng.size(200))
          : rng.string(rng.size(400), B64 + "=\n\r \t-_"),
      ];
    case 1: {
      const bytes = rng.bytes(rng.size(600));
      return ["random-base64", Buffer.from(bytes).toString("base64")];
    }
    case 2:
      return [
        "mutated-base64",
        mutateText(rng, valid.text, ["=", "==", "\n", "\r\n", " ", "-", "_", "*", "A"]),
      ];
    case 3:
      return [
        "mutated-yaml",
        b64(
          mutateText(rng, valid.yaml, [
            ": ",
            "\n",
            "  ",
            "- ",
            "&a ",
            "*a",
            "!!",
            "#",
            "'",
            '"',
            "{",
            "[",
            "\t",
          ]),
        ),
      ];
    case 4:
    case 5:
      return ["hostile-yaml", b64(hostileYaml(rng))];
    case 6:
      return ["alias-bomb", b64(aliasBomb(rng))];
    case 7:
      return ["deep-nesting", b64(deepNesting(rng))];
    case 8: {
      // Framing variants of a valid token: padding, whitespace, line breaks, URL-safe letters.
      let text = valid.text;
      const variant = rng.int(5);
      if (variant === 0) text = text.replace(/=+$/, "");
      if (variant === 1) text = text.replace(/(.{1,76})/g, "$1\n");
      if (variant === 2) text = text.replaceAll("+", "-").replaceAll("/", "_");
      if (variant === 3) text = ` \t${text}\r\n `;
      if (variant === 4) text = text + "=";
      return ["framing", text];
    }
    default: {
      const config = randomTokenConfig(rng);
      let encoded: string;
      try {
        encoded = encodeToken(config);
      } catch (err) {
        if (err instanceof InvalidTokenError) return ["encode-refused", ""];
        throw err;
      }
      return ["encoded-random-config", encoded, config];
    }
  }
}

function checkInvariants(token: NetworkToken, input: string): void {
  const fail = (what: string): never => {
    throw new FuzzFailure(`decoded token violates "${what}"; input ${JSON.stringify(input)}`);
  };
  for (const otp of [token.otp.dht, token.otp.crypto]) {
    if (!Number.isSafeInteger(otp.interval) || otp.interval <= 0) fail("interval > 0");
    if (!Number.isInteger(otp.length) || otp.length < 1 || otp.length > 44) fail("length 1..44");
    if (typeof otp.key !== "string") fail("key is a string");
  }
  if (token.otp.crypto.key === "") fail("crypto key not empty");
  if (token.otp.dht.key === "" && token.rendezvous === "") fail("dht key or rendezvous");
  for (const s of [token.room, token.rendezvous, token.mdns]) {
    if (typeof s !== "string") fail("fields are strings");
  }
  if (!Number.isSafeInteger(token.maxMessageSize) || token.maxMessageSize <= 0) {
    fail("max_message_size > 0");
  }
}

/** The token decoder target. */
export const tokenTarget: FuzzTarget<{ text: string; yaml: string }> = {
  name: "token",
  ciCases: 10_000,
  setup() {
    const text = encodeToken(generateTokenConfig());
    return Promise.resolve({ text, yaml: Buffer.from(text, "base64").toString("utf8") });
  },
  run(rng, valid) {
    const [kind, input, expected] = generate(rng, valid);
    if (kind === "encode-refused") return "encode-refused";
    let token: NetworkToken;
    try {
      token = decodeToken(input);
    } catch (err) {
      if (err instanceof InvalidTokenError && expected !== undefined) {
        throw new FuzzFailure(
          `encodeToken produced a token decodeToken refuses (${err.message}): ${
            JSON.stringify(expected)
          }`,
        );
      }
      if (err instanceof InvalidTokenError) {
        if (/[A-Za-z0-9+/]{40}/.test(err.message.replace(/^Cannot decode token: /, ""))) {
          throw new FuzzFailure(`error message may leak input: ${err.message}`);
        }
        return `${kind}:rejected`;
      }
      throw new FuzzFailure(
        `decodeToken threw ${
          err instanceof Error ? `${err.name}: ${err.message}` : String(err)
        } (only InvalidTokenError allowed); input ${JSON.stringify(input.slice(0, 2000))}`,
      );
    }
    checkInvariants(token, input);
    // What a node does with a token at start must not throw either.
    const reencoded = encodeToken(token);
    inspectToken(token, Date.now() / 1000, input);
    const again = decodeToken(reencoded);
    if (!isDeepStrictEqual(again, token)) {
      throw new FuzzFailure(
        `re-encoding changes the token: ${JSON.stringify(token)} → ${JSON.stringify(again)}`,
      );
    }
    if (expected !== undefined && !isDeepStrictEqual(token, expected)) {
      // encodeToken accepted this config: its output must decode to exactly it.
      throw new FuzzFailure(
        `encode → decode changes the token: ${JSON.stringify(expected)} → ${JSON.stringify(token)}`,
      );
    }
    return `${kind}:accepted`;
  },
};
