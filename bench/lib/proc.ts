/**
 * Child processes of the bench (every one registered, so the harness can stop them all by
 * itself) and readings from /proc: CPU time, RSS, machine load.
 */

const CLK_TCK = 100; // USER_HZ on Linux x86_64/arm64

/** Bounded number of stderr lines kept per child (for error messages). */
const STDERR_TAIL = 200;
/** Bounded number of stdout lines kept per child. */
const STDOUT_MAX = 1000;

/** Every child still registered; {@linkcode stopAllChildren} ends them. */
export const children: Set<Child> = new Set();

/** What to spawn. */
export interface ChildInit {
  /** Label for messages. */
  name: string;
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  /**
   * "piped": the child gets a stdin pipe that the harness never writes; the bench's own
   * helper servers exit when it closes, so they die with the harness.
   */
  stdin?: "null" | "piped";
}

/** A spawned process whose output lines are collected as they arrive. */
export class Child {
  readonly name: string;
  readonly process: Deno.ChildProcess;
  readonly pid: number;
  readonly stdoutLines: string[] = [];
  readonly stderrTail: string[] = [];
  readonly status: Promise<Deno.CommandStatus>;
  exitedWith: Deno.CommandStatus | undefined;
  #readers: Promise<void>[];
  #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;

  constructor(init: ChildInit) {
    this.name = init.name;
    this.process = new Deno.Command(init.cmd, {
      args: init.args,
      env: { NO_COLOR: "1", ...init.env },
      stdin: init.stdin ?? "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.process.pid;
    if (init.stdin === "piped") this.#stdin = this.process.stdin.getWriter();
    this.#readers = [
      collectLines(this.process.stdout, (l) => {
        if (this.stdoutLines.length < STDOUT_MAX) this.stdoutLines.push(l);
      }),
      collectLines(this.process.stderr, (l) => {
        this.stderrTail.push(l);
        if (this.stderrTail.length > STDERR_TAIL) this.stderrTail.shift();
      }),
    ];
    this.status = this.process.status.then((s) => (this.exitedWith = s));
    children.add(this);
  }

  /** Waits (bounded) for a stdout line matching `match`; fails early if the child exits. */
  async waitLine(match: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const line = this.stdoutLines.find(match);
      if (line !== undefined) return line;
      if (this.exitedWith !== undefined) {
        throw new Error(
          `${this.name} exited (code ${this.exitedWith.code}) before its start line\n${this.tail()}`,
        );
      }
      await sleep(20);
    }
    throw new Error(`${this.name}: no start line within ${timeoutMs} ms\n${this.tail()}`);
  }

  /** The last stderr lines, for error messages. */
  tail(lines = 30): string {
    return this.stderrTail.slice(-lines).map((l) => `  [${this.name}] ${l}`).join("\n");
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; waits for the exit and the output readers. */
  async stop(timeoutMs = 5_000): Promise<void> {
    children.delete(this);
    try {
      await this.#stdin?.close();
    } catch {
      // already closed
    }
    if (this.exitedWith === undefined) {
      try {
        this.process.kill("SIGTERM");
      } catch {
        // already exited
      }
    }
    const timer = setTimeout(() => {
      try {
        this.process.kill("SIGKILL");
      } catch {
        // already exited
      }
    }, timeoutMs);
    try {
      await this.status;
      await Promise.race([Promise.all(this.#readers), sleep(2_000)]);
    } finally {
      clearTimeout(timer);
    }
  }
}

async function collectLines(
  stream: ReadableStream<Uint8Array>,
  push: (line: string) => void,
): Promise<void> {
  let rest = "";
  try {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const p of parts) push(p);
    }
  } catch {
    // the pipe broke: the child is gone
  }
  if (rest !== "") push(rest);
}

/** Stops every registered child, in parallel; never throws. */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((c) => c.stop().catch(() => {})));
}

/** Resolves after `ms`. */
/**
 * Runs `cmd args…` to completion: its stdout and stderr when it exits 0, `undefined` when it
 * fails or is not installed.
 */
export async function commandOutput(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return out.success ? text : undefined;
  } catch {
    return undefined; // not installed
  }
}

/** Whether `cmd` is on the PATH (it ran, whatever its exit code). */
export async function installed(cmd: string, args: string[]): Promise<boolean> {
  try {
    await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** CPU seconds (user + system) a process has used so far; NaN if it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

function statusField(pid: number, field: string): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Resident set size (VmRSS) in MiB; NaN if the process is gone. */
export function rssMiB(pid: number): number {
  return statusField(pid, "VmRSS");
}

/** Peak resident set size (VmHWM) in MiB. */
export function hwmMiB(pid: number): number {
  return statusField(pid, "VmHWM");
}

/** The 1/5/15-minute load average, as /proc/loadavg prints it. */
export function loadAvg(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "n/a";
  }
}

function machineJiffies(): { busy: number; total: number } {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n")[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/** CPU used by each named process over a phase, and the machine's busy share. */
export interface CpuReport {
  wallS: number;
  /** Per process: CPU seconds, and the share of one core it used. */
  procs: Record<string, { cpuS: number; coreShare: number }>;
  /** Busy share of all cores of the machine (every process, not only ours). */
  machineBusy: number;
}

/**
 * Several phases' reports as one, as if measured over their total time: CPU seconds add up,
 * core shares are over the summed wall time, the machine's busy share is weighted by it.
 */
export function sumCpuReports(reports: readonly CpuReport[]): CpuReport {
  const wallS = reports.reduce((sum, r) => sum + r.wallS, 0);
  const procs: CpuReport["procs"] = {};
  for (const r of reports) {
    for (const [k, v] of Object.entries(r.procs)) {
      procs[k] = { cpuS: (procs[k]?.cpuS ?? 0) + v.cpuS, coreShare: NaN };
    }
  }
  for (const v of Object.values(procs)) v.coreShare = wallS > 0 ? v.cpuS / wallS : NaN;
  const busy = reports.reduce((sum, r) => sum + r.machineBusy * r.wallS, 0);
  return { wallS, procs, machineBusy: wallS > 0 ? busy / wallS : NaN };
}

/** Starts measuring CPU time of `pids` (name → pid); call the result to end the phase. */
export function cpuProbe(pids: Record<string, number>): () => CpuReport {
  const t0 = performance.now();
  const m0 = machineJiffies();
  const c0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  return () => {
    const wallS = (performance.now() - t0) / 1000;
    const m1 = machineJiffies();
    const procs: CpuReport["procs"] = {};
    for (const [k, pid] of Object.entries(pids)) {
      const cpuS = cpuSeconds(pid) - (c0[k] ?? NaN);
      procs[k] = { cpuS, coreShare: wallS > 0 ? cpuS / wallS : NaN };
    }
    const total = m1.total - m0.total;
    return { wallS, procs, machineBusy: total > 0 ? (m1.busy - m0.busy) / total : NaN };
  };
}

/** Samples VmRSS of `pids` every `intervalMs`; call the result to stop and get each maximum. */
export function rssSampler(
  pids: Record<string, number>,
  intervalMs = 100,
): () => Record<string, number> {
  const max: Record<string, number> = {};
  const sample = (): void => {
    for (const [k, pid] of Object.entries(pids)) {
      const v = rssMiB(pid);
      if (Number.isFinite(v)) max[k] = Math.max(max[k] ?? 0, v);
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return () => {
    clearInterval(timer);
    sample();
    return max;
  };
}

/** Open file descriptors of a process (entries of /proc/PID/fd); NaN if it is gone. */
export function fdCount(pid: number): number {
  try {
    let count = 0;
    for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) count++;
    return count;
  } catch {
    return NaN;
  }
}
