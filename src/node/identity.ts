import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";

/**
 * The identity file could not be read, parsed or written.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { IdentityError, loadOrCreateIdentity } from "./identity.ts";
 *
 * const path = await Deno.makeTempFile();
 * try {
 *   await Deno.writeTextFile(path, "not a key");
 *   await assert.rejects(loadOrCreateIdentity(path), IdentityError);
 * } finally {
 *   await Deno.remove(path);
 * }
 * ```
 */
export class IdentityError extends Error {
  /**
   * Creates the error.
   *
   * @param message What went wrong, naming the file.
   * @param options The underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IdentityError";
  }
}

/**
 * Loads the node's private key from `path`, creating it (Ed25519, mode 0600) on first use.
 *
 * A file that exists but does not hold a libp2p private key is an error: silently replacing
 * it would give the node a new peer ID, which is exactly what a persisted identity avoids.
 *
 * @param path The identity file.
 * @returns The private key stored in the file.
 * @throws {IdentityError} The file is unreadable, corrupt, or cannot be created.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadOrCreateIdentity } from "./identity.ts";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.remove(path);
 * const first = await loadOrCreateIdentity(path);
 * const again = await loadOrCreateIdentity(path);
 * assert.ok(first.equals(again));
 * await Deno.remove(path);
 * ```
 */
export async function loadOrCreateIdentity(path: string): Promise<PrivateKey> {
  const existing = await readIdentityFile(path);
  if (existing !== undefined) return decodeIdentity(path, existing);
  const key = await generateKeyPair("Ed25519");
  await writeIdentityFile(path, privateKeyToProtobuf(key));
  return key;
}

async function readIdentityFile(path: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new IdentityError(`Cannot read identity file "${path}": ${errorText(err)}`, {
      cause: err,
    });
  }
}

function decodeIdentity(path: string, bytes: Uint8Array): PrivateKey {
  try {
    return privateKeyFromProtobuf(bytes);
  } catch (err) {
    throw new IdentityError(
      `Cannot load identity file "${path}": not a libp2p private key (move it away to create a new identity)`,
      { cause: err },
    );
  }
}

async function writeIdentityFile(path: string, bytes: Uint8Array): Promise<void> {
  try {
    // createNew: two processes racing on the same path must not overwrite each other's key.
    await Deno.writeFile(path, bytes, { mode: 0o600, createNew: true });
    await Deno.chmod(path, 0o600);
  } catch (err) {
    throw new IdentityError(`Cannot create identity file "${path}": ${errorText(err)}`, {
      cause: err,
    });
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
