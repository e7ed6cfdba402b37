/**
 * Sampling CPU profiles of a `p2p` process through its V8 inspector (`deno run --inspect`), for
 * `bench/profile.ts --cpuprofile DIR`: unlike `--prof` it gives call trees, so the time a
 * layer costs can be read inclusive of what it calls (top-down), not only as self time.
 *
 * @module
 */

/** One node of V8's `Profiler.Profile`. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/** V8's `Profiler.Profile` (the `.cpuprofile` format Chrome DevTools opens). */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** A profiler attached to one process's inspector. */
export interface Profiler {
  /** Starts sampling every `intervalUs` microseconds. */
  start(intervalUs: number): Promise<void>;
  /** Stops sampling and returns the profile. */
  stop(): Promise<CpuProfile>;
  /** Starts sampling allocations (also of objects collected since: the garbage). */
  startAllocations(intervalBytes: number): Promise<void>;
  /**
   * Stops sampling allocations and returns the bytes allocated per site (a function and its
   * two callers), largest first.
   */
  stopAllocations(): Promise<[string, number][]>;
  /** Closes the inspector session. */
  close(): void;
}

/** One node of V8's `HeapProfiler.SamplingHeapProfile`. */
interface AllocationNode {
  callFrame: ProfileNode["callFrame"];
  selfSize: number;
  children: AllocationNode[];
}

const INSPECTOR_LINE = /Debugger listening on (ws:\/\/\S+)/;

/** The inspector's WebSocket address in a process's stderr lines, if it printed it. */
export function inspectorUrl(stderrLines: readonly string[]): string | undefined {
  for (const line of stderrLines) {
    const match = INSPECTOR_LINE.exec(line);
    if (match !== null) return match[1];
  }
  return undefined;
}

/** Opens an inspector session at `url` (bounded by `timeoutMs`). */
export async function attachProfiler(url: string, timeoutMs = 5_000): Promise<Profiler> {
  const socket = new WebSocket(url);
  const pending = new Map<number, (result: unknown) => void>();
  let nextId = 1;
  socket.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`inspector ${url}: no answer`)), timeoutMs);
    socket.onopen = () => (clearTimeout(timer), resolve());
    socket.onerror = () => (clearTimeout(timer), reject(new Error(`inspector ${url}: failed`)));
  });
  const call = (method: string, params: Record<string, unknown> = {}): Promise<unknown> => {
    const id = nextId++;
    socket.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`inspector: ${method} timed out`)), 30_000);
      pending.set(id, (result) => (clearTimeout(timer), pending.delete(id), resolve(result)));
    });
  };
  await call("Runtime.runIfWaitingForDebugger");
  await call("Profiler.enable");
  return {
    async start(intervalUs) {
      await call("Profiler.setSamplingInterval", { interval: intervalUs });
      await call("Profiler.start");
    },
    async stop() {
      const result = await call("Profiler.stop") as { profile: CpuProfile };
      return result.profile;
    },
    async startAllocations(intervalBytes) {
      await call("HeapProfiler.startSampling", {
        samplingInterval: intervalBytes,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
    },
    async stopAllocations() {
      const result = await call("HeapProfiler.stopSampling") as {
        profile: { head: AllocationNode };
      };
      const bytes = new Map<string, number>();
      // Each site with its two callers: a builtin (`subarray`) says little on its own.
      const visit = (node: AllocationNode, callers: string[]): void => {
        const label = functionLabel(node.callFrame);
        if (node.selfSize > 0) add(bytes, [label, ...callers].join(" ← "), node.selfSize);
        for (const child of node.children) visit(child, [label, ...callers].slice(0, 2));
      };
      visit(result.profile.head, []);
      return [...bytes].sort((a, b) => b[1] - a[1]);
    },
    close: () => socket.close(),
  };
}

/** Self and inclusive sample shares of the functions (or packages) of a profile. */
export interface ProfileSummary {
  samples: number;
  /** `[name, self share, inclusive share]`, by inclusive share, largest first. */
  functions: [string, number, number][];
  /** The same by package (`node_modules` package, `src/...` file, `ext:` module, `(native)`). */
  packages: [string, number, number][];
}

/** Summarises a profile: each sample counts once per function (or package) on its stack. */
export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const hits = new Map<number, number>();
  for (const id of profile.samples ?? []) hits.set(id, (hits.get(id) ?? 0) + 1);
  const fnSelf = new Map<string, number>();
  const fnIncl = new Map<string, number>();
  const pkgSelf = new Map<string, number>();
  const pkgIncl = new Map<string, number>();
  let total = 0;
  for (const [leaf, count] of hits) {
    const leafNode = byId.get(leaf)!;
    if (leafNode.callFrame.functionName === "(idle)") continue;
    total += count;
    const seenFn = new Set<string>();
    const seenPkg = new Set<string>();
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!.callFrame;
      if (frame.functionName === "(root)") break;
      const fn = functionLabel(frame);
      const pkg = packageLabel(frame.url);
      if (id === leaf) {
        add(fnSelf, fn, count);
        add(pkgSelf, pkg, count);
      }
      if (!seenFn.has(fn)) (seenFn.add(fn), add(fnIncl, fn, count));
      if (!seenPkg.has(pkg)) (seenPkg.add(pkg), add(pkgIncl, pkg, count));
    }
  }
  const rows = (self: Map<string, number>, incl: Map<string, number>) =>
    [...incl].map(([k, v]): [string, number, number] => [
      k,
      (self.get(k) ?? 0) / Math.max(1, total),
      v / Math.max(1, total),
    ]).sort((a, b) => b[2] - a[2]);
  return { samples: total, functions: rows(fnSelf, fnIncl), packages: rows(pkgSelf, pkgIncl) };
}

function add(map: Map<string, number>, key: string, count: number): void {
  map.set(key, (map.get(key) ?? 0) + count);
}

function functionLabel(frame: ProfileNode["callFrame"]): string {
  const name = frame.functionName === "" ? "(anonymous)" : frame.functionName;
  if (frame.url === "") return name;
  return `${name} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) return url.slice(nm + "/node_modules/".length);
  const src = url.indexOf("/src/");
  if (src >= 0) return url.slice(src + 1);
  return url.replace(/^file:\/\/\/.*\//, "");
}

function packageLabel(url: string): string {
  if (url === "") return "(native)";
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const [first = "", second = ""] = url.slice(nm + "/node_modules/".length).split("/");
    return first.startsWith("@") ? `${first}/${second}` : first;
  }
  if (url.startsWith("ext:")) return url.split("/")[0] + "/" + (url.split("/")[1] ?? "");
  const src = url.indexOf("/src/");
  if (src >= 0) return url.slice(src + 1);
  return shortUrl(url);
}

/** The summary as text: the top `limit` packages and functions by inclusive share. */
export function formatSummary(name: string, summary: ProfileSummary, limit = 40): string {
  const pct = (x: number) => (x * 100).toFixed(1).padStart(5);
  const lines = [`${name}: ${summary.samples} samples (self% incl%)`, "  packages:"];
  for (const [k, s, i] of summary.packages.slice(0, 25)) lines.push(`  ${pct(s)} ${pct(i)}  ${k}`);
  lines.push("  functions:");
  for (const [k, s, i] of summary.functions.slice(0, limit)) {
    lines.push(`  ${pct(s)} ${pct(i)}  ${k}`);
  }
  return lines.join("\n");
}
