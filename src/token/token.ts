/**
 * The network token: generation, encoding and decoding, wire-compatible with edgevpn v0.34
 * (`YAMLConnectionConfig`) and LocalAI.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { randomInt } from "node:crypto";
import { parse } from "yaml";
import { InvalidTokenError } from "./errors.ts";

/** One rotating secret of a {@linkcode NetworkToken}: a TOTP key and its parameters. */
export interface OtpConfig {
  /** The TOTP key (43 characters from `[A-Za-z0-9]` when generated). */
  key: string;
  /** Rotation period in seconds, aligned to the Unix epoch. */
  interval: number;
  /** Number of base64 characters of the TOTP kept (1 to 44). */
  length: number;
}

/** A decoded network token: edgevpn's `YAMLConnectionConfig`. */
export interface NetworkToken {
  /** The DHT rendezvous secret (`dht`) and the gossip seal secret (`crypto`). */
  otp: { dht: OtpConfig; crypto: OtpConfig };
  /** Secret from which the gossip topic is derived. */
  room: string;
  /** Static DHT rendezvous, used only when `otp.dht.key` is empty. */
  rendezvous: string;
  /** The mDNS service tag, used verbatim. */
  mdns: string;
  /** Maximum gossip message size in bytes (`max_message_size`). */
  maxMessageSize: number;
}

/** Options for {@linkcode generateTokenConfig} and {@linkcode generateToken}. */
export interface GenerateTokenOptions {
  /**
   * Rotation period of the DHT rendezvous, in seconds.
   *
   * @default {30}
   */
  dhtInterval?: number;
  /**
   * Rotation period of the gossip topic and seal key, in seconds.
   *
   * @default {9000}
   */
  otpInterval?: number;
}

/**
 * Length of every generated secret, as in LocalAI.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateTokenConfig, TOKEN_KEY_LENGTH } from "./token.ts";
 *
 * assert.equal(generateTokenConfig().room.length, TOKEN_KEY_LENGTH);
 * ```
 */
export const TOKEN_KEY_LENGTH: number = 43;

/**
 * Default maximum gossip message size (20 MiB), as in LocalAI.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateTokenConfig, TOKEN_MAX_MESSAGE_SIZE } from "./token.ts";
 *
 * assert.equal(generateTokenConfig().maxMessageSize, TOKEN_MAX_MESSAGE_SIZE);
 * ```
 */
export const TOKEN_MAX_MESSAGE_SIZE: number = 20971520;

const ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890";
const MAX_TOTP_LENGTH = 44;

/**
 * Generates a new network token with fresh secrets from a CSPRNG, like LocalAI's
 * `GenerateToken` (same alphabet and lengths, but not `math/rand`).
 *
 * @param options The rotation intervals.
 * @returns The new token.
 * @throws {InvalidTokenError} If an interval is not a positive integer.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateTokenConfig } from "./token.ts";
 *
 * const token = generateTokenConfig({ dhtInterval: 60 });
 * assert.equal(token.otp.dht.interval, 60);
 * assert.equal(token.otp.crypto.interval, 9000);
 * assert.match(token.room, /^[A-Za-z0-9]{43}$/);
 * ```
 */
export function generateTokenConfig(options: GenerateTokenOptions = {}): NetworkToken {
  const { dhtInterval = 30, otpInterval = 9000 } = options;
  checkInterval("dhtInterval", dhtInterval);
  checkInterval("otpInterval", otpInterval);
  return {
    otp: {
      dht: { key: randomSecret(), interval: dhtInterval, length: TOKEN_KEY_LENGTH },
      crypto: { key: randomSecret(), interval: otpInterval, length: TOKEN_KEY_LENGTH },
    },
    room: randomSecret(),
    rendezvous: randomSecret(),
    mdns: randomSecret(),
    maxMessageSize: TOKEN_MAX_MESSAGE_SIZE,
  };
}

/**
 * Generates a new network token and encodes it, like LocalAI's `GenerateToken`.
 *
 * @param options The rotation intervals.
 * @returns The encoded token.
 * @throws {InvalidTokenError} If an interval is not a positive integer.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeToken, generateToken } from "@p2p/p2p";
 *
 * const token = decodeToken(generateToken());
 * assert.equal(token.otp.dht.interval, 30);
 * ```
 */
export function generateToken(options: GenerateTokenOptions = {}): string {
  return encodeToken(generateTokenConfig(options));
}

/**
 * Encodes a token as edgevpn does: standard padded base64 of the YAML that Go's yaml.v2 writes
 * for `YAMLConnectionConfig`.
 *
 * @param token The token to encode.
 * @returns The encoded token.
 * @throws {InvalidTokenError} If the token would not decode (see {@linkcode decodeToken}).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeToken, encodeToken } from "@p2p/p2p";
 * import { generateTokenConfig } from "./token.ts";
 *
 * const token = generateTokenConfig();
 * assert.deepEqual(decodeToken(encodeToken(token)), token);
 * ```
 */
export function encodeToken(token: NetworkToken): string {
  checkToken(token, "encode");
  const { dht, crypto } = token.otp;
  const yaml = [
    line(0, "otp"),
    line(2, "dht"),
    ...otpLines(dht),
    line(2, "crypto"),
    ...otpLines(crypto),
    line(0, "room", token.room),
    line(0, "rendezvous", token.rendezvous),
    line(0, "mdns", token.mdns),
    line(0, "max_message_size", token.maxMessageSize),
  ].join("");
  return Buffer.from(yaml, "utf8").toString("base64");
}

/**
 * Decodes and validates a token produced by LocalAI, edgevpn or {@linkcode encodeToken}.
 *
 * Surrounding whitespace is ignored. Every YAML scalar is read as a string, so an all-digit key
 * stays exact. A missing `max_message_size` defaults to {@linkcode TOKEN_MAX_MESSAGE_SIZE}.
 *
 * @param text The encoded token.
 * @returns The decoded token.
 * @throws {InvalidTokenError} If the token is empty, not base64, not a YAML mapping, misses a
 * field, or has an interval, length or key out of range. The message never contains secrets.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeToken, generateToken, InvalidTokenError } from "@p2p/p2p";
 *
 * const token = decodeToken(`${generateToken({ otpInterval: 60 })}\n`);
 * assert.equal(token.otp.crypto.interval, 60);
 * assert.throws(() => decodeToken(""), InvalidTokenError);
 * ```
 */
export function decodeToken(text: string): NetworkToken {
  const root = asMapping(parseYaml(decodeBase64(text)), undefined);
  const otp = asMapping(field(root, "otp", "otp"), "otp");
  const maxMessageSize = Object.hasOwn(root, "max_message_size")
    ? toInteger(asString(root["max_message_size"], "max_message_size"))
    : TOKEN_MAX_MESSAGE_SIZE;
  const token: NetworkToken = {
    otp: { dht: readOtp(otp, "dht"), crypto: readOtp(otp, "crypto") },
    room: readString(root, "room"),
    rendezvous: readString(root, "rendezvous"),
    mdns: readString(root, "mdns"),
    maxMessageSize,
  };
  checkToken(token, "decode");
  return token;
}

function randomSecret(): string {
  let secret = "";
  for (let i = 0; i < TOKEN_KEY_LENGTH; i++) secret += ALPHABET.charAt(randomInt(ALPHABET.length));
  return secret;
}

function checkInterval(name: string, value: number): void {
  if (!isPositiveInteger(value)) {
    throw new InvalidTokenError(`Cannot generate token: "${name}" must be a positive integer`);
  }
}

function isPositiveInteger(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}

function checkToken(token: NetworkToken, action: "decode" | "encode"): void {
  const fail = (reason: string) => new InvalidTokenError(`Cannot ${action} token: ${reason}`);
  const sections = [["otp.dht", token.otp.dht], ["otp.crypto", token.otp.crypto]] as const;
  for (const [path, otp] of sections) {
    if (!isPositiveInteger(otp.interval)) {
      throw fail(`interval of "${path}" must be a positive integer`);
    }
    if (!Number.isInteger(otp.length) || otp.length < 1 || otp.length > MAX_TOTP_LENGTH) {
      throw fail(`length of "${path}" must be between 1 and ${MAX_TOTP_LENGTH}`);
    }
  }
  if (token.otp.crypto.key === "") throw fail(`key of "otp.crypto" is empty`);
  if (token.otp.dht.key === "" && token.rendezvous === "") {
    throw fail(`key of "otp.dht" and "rendezvous" are both empty`);
  }
  if (!isPositiveInteger(token.maxMessageSize)) {
    throw fail(`"max_message_size" must be a positive integer`);
  }
}

function line(indent: number, key: string, value?: string | number): string {
  const head = `${" ".repeat(indent)}${key}:`;
  if (value === undefined) return `${head}\n`;
  return `${head} ${typeof value === "number" ? value : yamlString(value)}\n`;
}

/**
 * A YAML scalar Go's yaml.v2 reads back as this string: plain for what secrets are made of
 * (letters and digits, as yaml.v2 itself writes them), double-quoted (JSON escapes are YAML
 * escapes) for anything that could read as another type or needs escaping.
 */
function yamlString(value: string): string {
  const plain = /^[A-Za-z][A-Za-z0-9]*$/.test(value) &&
    !/^(y|yes|n|no|true|false|on|off|null)$/i.test(value);
  return plain ? value : JSON.stringify(value);
}

function otpLines(otp: OtpConfig): string[] {
  return [
    line(4, "interval", otp.interval),
    line(4, "key", otp.key),
    line(4, "length", otp.length),
  ];
}

function invalid(reason: string, cause?: unknown): InvalidTokenError {
  const message = `Cannot decode token: ${reason}`;
  return cause === undefined
    ? new InvalidTokenError(message)
    : new InvalidTokenError(message, { cause });
}

function decodeBase64(text: string): string {
  // Go's base64 decoder skips CR and LF anywhere; anything else outside the alphabet is an error.
  const compact = text.trim().replaceAll(/[\r\n]/g, "");
  if (compact === "") throw invalid("empty");
  const padded = compact.endsWith("=");
  const length = compact.length % 4;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || (padded ? length !== 0 : length === 1)) {
    throw invalid("not base64");
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(compact, "base64"));
  } catch (error) {
    throw invalid("not YAML", error);
  }
}

function parseYaml(text: string): unknown {
  try {
    return parse(text, { schema: "failsafe", logLevel: "error" });
  } catch (error) {
    throw invalid("not YAML", error);
  }
}

type Mapping = Record<string, unknown>;

function asMapping(value: unknown, path: string | undefined): Mapping {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    return value as Mapping;
  }
  throw invalid(path === undefined ? "not a YAML mapping" : `field "${path}" is not a mapping`);
}

function field(mapping: Mapping, name: string, path: string): unknown {
  if (!Object.hasOwn(mapping, name)) throw invalid(`missing field "${path}"`);
  return mapping[name];
}

function asString(value: unknown, path: string): string {
  // Failsafe YAML reads every scalar as a string; an empty value is null, as in Go.
  if (value === null) return "";
  if (typeof value === "string") return value;
  throw invalid(`field "${path}" is not a string`);
}

function readString(mapping: Mapping, name: string, prefix?: string): string {
  const path = prefix === undefined ? name : `${prefix}.${name}`;
  return asString(field(mapping, name, path), path);
}

function toInteger(text: string): number {
  return /^[-+]?[0-9]+$/.test(text) ? Number(text) : Number.NaN;
}

function readOtp(otp: Mapping, name: "dht" | "crypto"): OtpConfig {
  const path = `otp.${name}`;
  const section = asMapping(field(otp, name, path), path);
  const interval = toInteger(readString(section, "interval", path));
  const key = readString(section, "key", path);
  const length = toInteger(readString(section, "length", path));
  return { key, interval, length };
}
