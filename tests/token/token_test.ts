import assert from "node:assert/strict";
import {
  decodeToken,
  encodeToken,
  generateToken,
  generateTokenConfig,
  InvalidTokenError,
  type NetworkToken,
  TOKEN_KEY_LENGTH,
  TOKEN_MAX_MESSAGE_SIZE,
} from "../../src/token/mod.ts";

const DHT_KEY = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
const CRYPTO_KEY = "QPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba";
const ROOM = "room0000000000000000000000000000000000000r1";
const RENDEZVOUS = "rendezvous000000000000000000000000000000rv1";
const MDNS = "mdns0000000000000000000000000000000000000m1";

const FIXED: NetworkToken = {
  otp: {
    dht: { key: DHT_KEY, interval: 30, length: 43 },
    crypto: { key: CRYPTO_KEY, interval: 9000, length: 43 },
  },
  room: ROOM,
  rendezvous: RENDEZVOUS,
  mdns: MDNS,
  maxMessageSize: 20971520,
};

const FIXED_YAML = `otp:
  dht:
    interval: 30
    key: ${DHT_KEY}
    length: 43
  crypto:
    interval: 9000
    key: ${CRYPTO_KEY}
    length: 43
room: ${ROOM}
rendezvous: ${RENDEZVOUS}
mdns: ${MDNS}
max_message_size: 20971520
`;

/** Each line of {@linkcode FIXED_YAML} with the dotted path of its field. */
const LINES: ReadonlyArray<readonly [string, string]> = [
  ["otp", "otp:"],
  ["otp.dht", "  dht:"],
  ["otp.dht.interval", "    interval: 30"],
  ["otp.dht.key", `    key: ${DHT_KEY}`],
  ["otp.dht.length", "    length: 43"],
  ["otp.crypto", "  crypto:"],
  ["otp.crypto.interval", "    interval: 9000"],
  ["otp.crypto.key", `    key: ${CRYPTO_KEY}`],
  ["otp.crypto.length", "    length: 43"],
  ["room", `room: ${ROOM}`],
  ["rendezvous", `rendezvous: ${RENDEZVOUS}`],
  ["mdns", `mdns: ${MDNS}`],
  ["max_message_size", "max_message_size: 20971520"],
];

function utf8Base64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

function yamlOf(token: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(token), (c) => c.charCodeAt(0)));
}

/** The fixed YAML without the field at `path` (and its children). */
function tokenWithout(path: string): string {
  const kept = LINES.filter(([p]) => p !== path && !p.startsWith(`${path}.`));
  return utf8Base64(kept.map(([, line]) => `${line}\n`).join(""));
}

/** The fixed YAML with the field at `path` set to `value` (written verbatim). */
function tokenWith(path: string, value: string): string {
  const lines = LINES.map(([p, line]) => p === path ? `${line.split(":")[0]}: ${value}` : line);
  return utf8Base64(lines.map((line) => `${line}\n`).join(""));
}

function assertRejects(token: string, message: string): void {
  assert.throws(() => decodeToken(token), (error: unknown) => {
    assert.ok(error instanceof InvalidTokenError);
    assert.equal(error.name, "InvalidTokenError");
    assert.equal(error.message, message);
    return true;
  });
}

Deno.test("encodeToken() writes the YAML layout of Go yaml.v2", () => {
  const token = encodeToken(FIXED);
  assert.match(token, /^[A-Za-z0-9+/]+={0,2}$/);
  assert.equal(token.length % 4, 0);
  assert.equal(yamlOf(token), FIXED_YAML);
  assert.equal(token, utf8Base64(FIXED_YAML));
});

Deno.test("decodeToken() round-trips encodeToken()", () => {
  assert.deepEqual(decodeToken(encodeToken(FIXED)), FIXED);
  const generated = generateTokenConfig({ dhtInterval: 360, otpInterval: 60 });
  assert.deepEqual(decodeToken(encodeToken(generated)), generated);
});

Deno.test("decodeToken() reads a hand-made token with a quoted all-digit key and whitespace", () => {
  const yaml = `otp:
  dht:
    interval: 360
    key: "0123456789012345678901234567890123456789012"
    length: 43
  crypto:
    interval: 60
    key: 00012
    length: 20
room: 'quoted room'
rendezvous: ${RENDEZVOUS}
mdns: ${MDNS}
max_message_size: 1048576
`;
  const token = decodeToken(`  \n${utf8Base64(yaml)}\n\t `);
  assert.deepEqual(token, {
    otp: {
      dht: { key: "0123456789012345678901234567890123456789012", interval: 360, length: 43 },
      crypto: { key: "00012", interval: 60, length: 20 },
    },
    room: "quoted room",
    rendezvous: RENDEZVOUS,
    mdns: MDNS,
    maxMessageSize: 1048576,
  });
});

Deno.test("decodeToken() accepts unpadded base64 and line-wrapped base64 like Go", () => {
  const token = encodeToken(FIXED);
  assert.deepEqual(decodeToken(token.replace(/=+$/, "")), FIXED);
  const wrapped = token.match(/.{1,76}/g)?.join("\r\n") ?? "";
  assert.deepEqual(decodeToken(wrapped), FIXED);
});

Deno.test("decodeToken() defaults a missing max_message_size", () => {
  assert.equal(decodeToken(tokenWithout("max_message_size")).maxMessageSize, 20971520);
  assert.equal(TOKEN_MAX_MESSAGE_SIZE, 20971520);
});

Deno.test("decodeToken() accepts an empty otp.dht.key when rendezvous is set", () => {
  const token = decodeToken(tokenWith("otp.dht.key", '""'));
  assert.equal(token.otp.dht.key, "");
  assert.equal(token.rendezvous, RENDEZVOUS);
});

Deno.test("decodeToken() ignores unknown fields", () => {
  const yaml = `${FIXED_YAML}extra: value\n`;
  assert.deepEqual(decodeToken(utf8Base64(yaml)), FIXED);
});

Deno.test("decodeToken() rejects an empty token", () => {
  assertRejects("", "Cannot decode token: empty");
  assertRejects("  \n\t ", "Cannot decode token: empty");
});

Deno.test("decodeToken() rejects a token that is not base64", () => {
  for (const text of ["!!!", "abc$", "A", "AB=C", "ab cd", "-_-_", "QQ===", "QUJD=="]) {
    assertRejects(text, "Cannot decode token: not base64");
  }
});

Deno.test("decodeToken() rejects a token that is not YAML", () => {
  assertRejects(utf8Base64("{a"), "Cannot decode token: not YAML");
  assertRejects(utf8Base64("a: 1\na: 2\n"), "Cannot decode token: not YAML");
  assertRejects(utf8Base64("a: 1\n---\nb: 2\n"), "Cannot decode token: not YAML");
  assertRejects(btoa("\xff\xfe"), "Cannot decode token: not YAML");
});

Deno.test("decodeToken() rejects YAML that is not a mapping", () => {
  for (const yaml of ["- a\n- b\n", "just text\n", "\n"]) {
    assertRejects(utf8Base64(yaml), "Cannot decode token: not a YAML mapping");
  }
  assertRejects(tokenWith("room", "[a, b]"), 'Cannot decode token: field "room" is not a string');
  const flatOtp = utf8Base64(FIXED_YAML.replace(/^otp:\n( {2}.*\n)+/, "otp: flat\n"));
  assertRejects(flatOtp, 'Cannot decode token: field "otp" is not a mapping');
});

for (
  const path of [
    "otp",
    "otp.dht",
    "otp.dht.interval",
    "otp.dht.key",
    "otp.dht.length",
    "otp.crypto",
    "otp.crypto.interval",
    "otp.crypto.key",
    "otp.crypto.length",
    "room",
    "rendezvous",
    "mdns",
  ]
) {
  Deno.test(`decodeToken() rejects a token without "${path}"`, () => {
    assertRejects(tokenWithout(path), `Cannot decode token: missing field "${path}"`);
  });
}

for (const section of ["otp.dht", "otp.crypto"]) {
  Deno.test(`decodeToken() rejects a bad interval of "${section}"`, () => {
    for (const value of ["0", "-30", "1.5", "abc", '""', "0x1E", "99999999999999999999"]) {
      assertRejects(
        tokenWith(`${section}.interval`, value),
        `Cannot decode token: interval of "${section}" must be a positive integer`,
      );
    }
  });

  Deno.test(`decodeToken() rejects a bad length of "${section}"`, () => {
    for (const value of ["0", "45", "-1", "4.5", "x"]) {
      assertRejects(
        tokenWith(`${section}.length`, value),
        `Cannot decode token: length of "${section}" must be between 1 and 44`,
      );
    }
  });
}

Deno.test("decodeToken() accepts lengths 1 and 44", () => {
  assert.equal(decodeToken(tokenWith("otp.dht.length", "1")).otp.dht.length, 1);
  assert.equal(decodeToken(tokenWith("otp.crypto.length", "44")).otp.crypto.length, 44);
});

Deno.test("decodeToken() rejects empty keys", () => {
  assertRejects(
    tokenWith("otp.crypto.key", '""'),
    'Cannot decode token: key of "otp.crypto" is empty',
  );
  const noDhtKey = tokenWith("otp.dht.key", "''");
  const both = utf8Base64(yamlOf(noDhtKey).replace(`rendezvous: ${RENDEZVOUS}`, "rendezvous:"));
  assertRejects(both, 'Cannot decode token: key of "otp.dht" and "rendezvous" are both empty');
});

Deno.test("decodeToken() rejects a bad max_message_size", () => {
  for (const value of ["0", "-1", "big"]) {
    assertRejects(
      tokenWith("max_message_size", value),
      'Cannot decode token: "max_message_size" must be a positive integer',
    );
  }
});

Deno.test("decodeToken() never puts the token or a key in its message", () => {
  const bad = [
    tokenWith("otp.dht.interval", "0"),
    tokenWithout("room"),
    `${encodeToken(FIXED)}$`,
    utf8Base64(`${FIXED_YAML}{`),
  ];
  for (const token of bad) {
    assert.throws(() => decodeToken(token), (error: unknown) => {
      assert.ok(error instanceof InvalidTokenError);
      for (const secret of [token, DHT_KEY, CRYPTO_KEY, ROOM, RENDEZVOUS, MDNS]) {
        assert.ok(!error.message.includes(secret));
      }
      return true;
    });
  }
});

Deno.test("generateTokenConfig() makes 43-character alphanumeric secrets that differ", () => {
  const a = generateTokenConfig();
  const b = generateTokenConfig();
  const secrets = (
    t: NetworkToken,
  ) => [t.otp.dht.key, t.otp.crypto.key, t.room, t.rendezvous, t.mdns];
  for (const secret of [...secrets(a), ...secrets(b)]) {
    assert.match(secret, /^[A-Za-z0-9]{43}$/);
  }
  assert.equal(new Set([...secrets(a), ...secrets(b)]).size, 10);
  assert.equal(TOKEN_KEY_LENGTH, 43);
  assert.equal(a.otp.dht.length, 43);
  assert.equal(a.otp.crypto.length, 43);
  assert.equal(a.maxMessageSize, 20971520);
});

Deno.test("generateTokenConfig() defaults intervals to 30 and 9000", () => {
  const token = generateTokenConfig();
  assert.equal(token.otp.dht.interval, 30);
  assert.equal(token.otp.crypto.interval, 9000);
});

Deno.test("generateTokenConfig() overrides intervals", () => {
  const token = generateTokenConfig({ dhtInterval: 360, otpInterval: 60 });
  assert.equal(token.otp.dht.interval, 360);
  assert.equal(token.otp.crypto.interval, 60);
  assert.equal(generateTokenConfig({ otpInterval: 120 }).otp.dht.interval, 30);
});

Deno.test("generateTokenConfig() rejects intervals that are not positive integers", () => {
  assert.throws(() => generateTokenConfig({ dhtInterval: 0 }), {
    name: "InvalidTokenError",
    message: 'Cannot generate token: "dhtInterval" must be a positive integer',
  });
  assert.throws(() => generateTokenConfig({ otpInterval: 1.5 }), {
    name: "InvalidTokenError",
    message: 'Cannot generate token: "otpInterval" must be a positive integer',
  });
});

Deno.test("generateToken() encodes a fresh token", () => {
  const a = generateToken({ dhtInterval: 90 });
  const b = generateToken();
  assert.notEqual(a, b);
  assert.equal(decodeToken(a).otp.dht.interval, 90);
  // A key that could read as a number is quoted (a leading digit): either way, 43 characters.
  assert.match(yamlOf(b), /^otp:\n {2}dht:\n {4}interval: 30\n {4}key: ("?)[A-Za-z0-9]{43}\1\n/);
});

Deno.test("encodeToken() rejects a token that would not decode", () => {
  const bad = { ...FIXED, otp: { ...FIXED.otp, dht: { ...FIXED.otp.dht, interval: 0 } } };
  assert.throws(() => encodeToken(bad), {
    name: "InvalidTokenError",
    message: 'Cannot encode token: interval of "otp.dht" must be a positive integer',
  });
  assert.throws(() => encodeToken({ ...FIXED, maxMessageSize: 1.5 }), InvalidTokenError);
});

Deno.test("encodeToken() writes secrets plain, as yaml.v2 does, and quotes anything else", () => {
  const cases: Array<[string, string]> = [
    ["plain", "room: plain\n"],
    ["abc123XYZ", "room: abc123XYZ\n"],
    // What could read as another type, or needs escaping: a double-quoted (JSON) scalar.
    ["1a2b", 'room: "1a2b"\n'],
    ["0123", 'room: "0123"\n'],
    ["true", 'room: "true"\n'],
    ["Yes", 'room: "Yes"\n'],
    ["null", 'room: "null"\n'],
    ["", 'room: ""\n'],
    ["a: b", 'room: "a: b"\n'],
    ["x\ny", 'room: "x\\ny"\n'],
    ["😀", 'room: "😀"\n'],
  ];
  for (const [room, line] of cases) {
    const yaml = yamlOf(encodeToken({ ...FIXED, room }));
    const start = yaml.indexOf("room:");
    assert.equal(yaml.slice(start, yaml.indexOf("rendezvous:")), line, JSON.stringify(room));
  }
});

Deno.test("decodeToken() reads back every string encodeToken() writes", () => {
  const words = "word ".repeat(30).trim();
  const strings = [
    "0123",
    "true",
    "",
    "a: b",
    "'q",
    "  spaced  ",
    "a\n\nb\n",
    "\nlead",
    "trail\n\n",
    "tab\there",
    "😀 and \u0085 and \u2028",
    "back\\slash",
    words,
    `'${words}`,
    `\t${words}  and  more`,
    `${words}\n${words}`,
  ];
  for (const value of strings) {
    const token = { ...FIXED, room: value, mdns: value };
    assert.deepEqual(decodeToken(encodeToken(token)), token, JSON.stringify(value));
  }
});
