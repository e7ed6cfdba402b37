/** Reads an environment variable; injected so tests can give their own environment. */
export type EnvReader = (name: string) => string | undefined;

/** The process environment. */
export const processEnv: EnvReader = (name: string): string | undefined => Deno.env.get(name);

/** The first of `names` that is set to a non-empty value. */
export function firstEnv(env: EnvReader, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = env(name);
    if (value !== undefined && value !== "") return value;
  }
  return undefined;
}

/** Whether any of `names` is set to `true` (or `1`/`yes`), as LocalAI reads its switches. */
export function envFlag(env: EnvReader, names: readonly string[]): boolean {
  const value = firstEnv(env, names)?.toLowerCase();
  return value === "true" || value === "1" || value === "yes";
}
