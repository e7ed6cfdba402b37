/**
 * Why a private network namespace (`unshare -n`, only `lo`) cannot be had here, or `undefined`
 * when it can. `tools` are the other commands the test needs (each run with its version flag).
 */
export function privateNamespaceUnavailable(tools: string[] = []): string | undefined {
  const checks: [string, string[]][] = [
    ["unshare", ["-n", "true"]],
    ...tools.map((tool): [string, string[]] => [tool, [tool === "ip" ? "-V" : "--version"]]),
  ];
  for (const [cmd, args] of checks) {
    try {
      const out = new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).outputSync();
      if (!out.success) return `"${cmd} ${args.join(" ")}" failed (exit ${out.code})`;
    } catch (err) {
      return `"${cmd}" is unavailable (${err instanceof Error ? err.message : err})`;
    }
  }
  return undefined;
}
