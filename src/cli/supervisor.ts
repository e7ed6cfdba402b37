import { getLogger } from "@logtape/logtape";

const log = getLogger(["p2p", "discover"]);

/** How long a consumer gets to exit after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 5_000;

/**
 * Runs a shell command with one environment variable set, and restarts it (SIGTERM, wait,
 * start) whenever the value changes: `LLAMACPP_GRPC_SERVERS` is read only at start-up.
 */
export class Supervisor {
  #command: string;
  #variable: string;
  #child: Deno.ChildProcess | undefined;
  #queue: Promise<void> = Promise.resolve();
  #stopped = false;

  /** @param command A shell command line. @param variable The variable to set. */
  constructor(command: string, variable: string) {
    this.#command = command;
    this.#variable = variable;
  }

  /** (Re)starts the command with `value`; calls are serialized. */
  restart(value: string): Promise<void> {
    this.#queue = this.#queue.then(async () => {
      await this.#terminate();
      if (this.#stopped) return;
      const child = new Deno.Command("sh", {
        // stdout carries discover's data (the address lists): the command writes to stderr.
        args: ["-c", `exec 1>&2\n${this.#command}`],
        env: { [this.#variable]: value },
        stdin: "null",
        stdout: "inherit",
        stderr: "inherit",
        // Its own process group, so a restart stops what the shell started too.
        detached: true,
      }).spawn();
      this.#child = child;
      void child.status.then((status) => {
        if (this.#child !== child) return; // stopped by us
        this.#child = undefined;
        log.warning("{command} exited with code {code}{hint}", {
          command: this.#command,
          code: status.code,
          hint: status.code === 127 ? " (command not found)" : "",
        });
      });
      log.info("Started {command} with {variable}={value} (pid {pid})", {
        command: this.#command,
        variable: this.#variable,
        value,
        pid: child.pid,
      });
    });
    return this.#queue;
  }

  /** Stops the command for good. */
  stop(): Promise<void> {
    this.#stopped = true;
    this.#queue = this.#queue.then(() => this.#terminate());
    return this.#queue;
  }

  async #terminate(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    // The whole group: SIGTERM to `sh` alone would orphan the commands it runs (`a; b`).
    signalGroup(child, "SIGTERM");
    const timer = setTimeout(() => signalGroup(child, "SIGKILL"), STOP_GRACE_MS);
    await child.status;
    clearTimeout(timer);
    // Members that outlive the shell get one more grace period, then SIGKILL. Not awaited:
    // an exited member stays a zombie until init reaps it, which can take seconds.
    if (groupAlive(child.pid)) {
      Deno.unrefTimer(setTimeout(() => signalGroup(child, "SIGKILL"), STOP_GRACE_MS));
    }
  }
}

/** Signals the child's process group (it leads one: `detached`), else the child alone. */
function signalGroup(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    Deno.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already exited
    }
  }
}

/** Whether any process of the group led by `pid` is still there. */
function groupAlive(pid: number): boolean {
  try {
    Deno.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}
