import { type EnvReader, firstEnv } from "./env.ts";
import { UsageError } from "./errors.ts";

/**
 * Reads a secret kept in a file (`--token-file`): a value on a command line is visible to
 * every local user (`ps`, `/proc/PID/cmdline`), a file with mode 0600 is not. Surrounding
 * whitespace (the trailing newline of `p2p token > file`) is dropped.
 *
 * @param path The file.
 * @param source The flag or variable that named it, for the error.
 * @throws {UsageError} The file is missing, unreadable or empty.
 */
export function readSecretFile(path: string, source: string): string {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    const reason = err instanceof Deno.errors.NotFound
      ? "no such file"
      : err instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : err instanceof Deno.errors.IsADirectory
      ? "it is a directory"
      : err instanceof Error
      ? err.message
      : String(err);
    throw new UsageError(`Cannot read ${source} "${path}": ${reason}`, { cause: err });
  }
  const secret = text.trim();
  if (secret === "") throw new UsageError(`Cannot use ${source} "${path}": the file is empty`);
  return secret;
}

/** Where a secret may come from, in order: the flag, the file flag, the variables, the file variables. */
export interface SecretSources {
  /** The flag's name (`--token`) and value. */
  flag: string;
  value: string | undefined;
  /** The file flag's name (`--token-file`) and value. */
  fileFlag: string;
  file: string | undefined;
  /** Variables holding the secret, P2P_* first. */
  env: readonly string[];
  /** Variables naming a file that holds it. */
  fileEnv: readonly string[];
}

/** A secret and where it came from (`--token-file "/run/secrets/p2p"`), for error messages. */
export interface Secret {
  text: string;
  source: string;
  /** Whether it was read from a file. */
  fromFile: boolean;
}

/**
 * The secret from the first source that gives one: flag, file flag, variable, file variable.
 *
 * @throws {UsageError} Both the flag and the file flag, or a file that cannot be used.
 */
export function resolveSecret(sources: SecretSources, env: EnvReader): Secret | undefined {
  if (sources.value !== undefined && sources.file !== undefined) {
    throw new UsageError(`Cannot use both ${sources.flag} and ${sources.fileFlag}`);
  }
  if (sources.value !== undefined) {
    return { text: sources.value, source: sources.flag, fromFile: false };
  }
  if (sources.file !== undefined) return fromFile(sources.file, sources.fileFlag);
  const value = firstEnv(env, sources.env);
  if (value !== undefined) {
    return { text: value, source: sources.env[0] ?? sources.flag, fromFile: false };
  }
  const fileVar = sources.fileEnv.find((name) => firstEnv(env, [name]) !== undefined);
  return fileVar === undefined ? undefined : fromFile(firstEnv(env, [fileVar])!, fileVar);
}

function fromFile(path: string, source: string): Secret {
  return { text: readSecretFile(path, source), source: `${source} "${path}"`, fromFile: true };
}
