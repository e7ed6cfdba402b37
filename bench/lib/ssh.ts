/**
 * The `ssh -L` anchor: a throwaway sshd on 127.0.0.1 with its own host key and one client key
 * (both made in a temp dir for this run, deleted after), and `ssh -N -L` forwarding a local
 * port to the bench service. It is what a user would use instead of `p2p expose` + `p2p
 * connect`: one encrypted, multiplexed connection carrying every forwarded TCP connection.
 */
import { Child, commandOutput, installed, sleep } from "./proc.ts";
import { freePort, waitForPort } from "./net.ts";

/** The cipher the anchor is pinned to (noise uses the same AEAD). */
export const SSH_CIPHER = "chacha20-poly1305@openssh.com";

/** A running `ssh -L` forward. */
export interface SshForward {
  /** The local port `ssh -L` listens on. */
  port: number;
  /**
   * `ssh` (the client) and `sshd` (the session process doing the forwarding, a child of the
   * listening sshd), for CPU readings.
   */
  pids: Record<string, number>;
  stop(): Promise<void>;
}

/** Whether the anchor can run here, and why not when it cannot. */
export interface SshAvailability {
  ok: boolean;
  note: string;
}

const SSHD_PATHS = ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"];

function sshdPath(): string | undefined {
  for (const p of SSHD_PATHS) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** Checks for `ssh`, `sshd` and `ssh-keygen` (sshd must be run by its absolute path). */
export async function sshAvailable(): Promise<SshAvailability> {
  const version = await commandOutput("ssh", ["-V"]);
  const sshd = sshdPath();
  const keygen = await installed("ssh-keygen", ["-?"]);
  if (version === undefined || sshd === undefined || !keygen) {
    return {
      ok: false,
      note: "ssh -L anchor skipped: openssh-client/openssh-server not installed " +
        "(run bench/setup as root to install them)",
    };
  }
  return { ok: true, note: `${version.trim().split("\n")[0]}; ${SSH_CIPHER}` };
}

/** The pids of the children of `pid` (from /proc; empty when none or gone). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const text = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`).trim();
      if (text !== "") out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

/** Every descendant of `pid`, depth first. */
function descendantsOf(pid: number): number[] {
  const direct = childrenOf(pid);
  return direct.flatMap((c) => [c, ...descendantsOf(c)]);
}

async function keygen(path: string): Promise<void> {
  const out = await new Deno.Command("ssh-keygen", {
    args: ["-q", "-t", "ed25519", "-N", "", "-C", "p2p-bench", "-f", path],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`ssh-keygen failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/**
 * Starts sshd on 127.0.0.1 and `ssh -N -L 127.0.0.1:PORT:127.0.0.1:target`; resolves once the
 * forward accepts connections (bounded by `timeoutMs`).
 */
export async function startSshForward(target: number, timeoutMs = 20_000): Promise<SshForward> {
  const sshd = sshdPath();
  if (sshd === undefined) throw new Error("sshd not found");
  const dir = await Deno.makeTempDir({ prefix: "p2p-bench-ssh-" });
  const started: Child[] = [];
  const cleanup = async (): Promise<void> => {
    // The client first: its exit ends the session process on the server side.
    for (const c of [...started].reverse()) await c.stop(3_000).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await keygen(`${dir}/host_key`);
    await keygen(`${dir}/client_key`);
    await Deno.writeTextFile(
      `${dir}/authorized_keys`,
      await Deno.readTextFile(`${dir}/client_key.pub`),
    );
    const hostPub = (await Deno.readTextFile(`${dir}/host_key.pub`)).trim().split(" ");
    const sshdPort = freePort();
    await Deno.writeTextFile(
      `${dir}/known_hosts`,
      `[127.0.0.1]:${sshdPort} ${hostPub[0]} ${hostPub[1]}\n`,
    );
    // sshd refuses keys in group/world-writable places unless StrictModes is off (a temp dir).
    await Deno.writeTextFile(
      `${dir}/sshd_config`,
      [
        `ListenAddress 127.0.0.1:${sshdPort}`,
        `HostKey ${dir}/host_key`,
        `PidFile ${dir}/sshd.pid`,
        `AuthorizedKeysFile ${dir}/authorized_keys`,
        "AuthenticationMethods publickey",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "UsePAM no",
        "StrictModes no",
        "AllowTcpForwarding local",
        "PermitOpen 127.0.0.1:*",
        "X11Forwarding no",
        "PermitTTY no",
        `Ciphers ${SSH_CIPHER}`,
        "Compression no",
        "UseDNS no",
        "MaxStartups 100",
        "LogLevel ERROR",
        "",
      ].join("\n"),
    );
    // Privilege separation wants its empty directory (absent on machines that never ran sshd).
    await Deno.mkdir("/run/sshd", { recursive: true }).catch(() => {});
    const server = new Child({
      name: "sshd",
      cmd: sshd,
      args: ["-D", "-e", "-f", `${dir}/sshd_config`],
    });
    started.push(server);
    await Promise.race([
      waitForPort(sshdPort, timeoutMs),
      server.status.then((s) => {
        throw new Error(`sshd exited with code ${s.code}\n${server.tail()}`);
      }),
    ]);
    const port = freePort();
    const user = Deno.env.get("USER") ?? (await commandOutput("id", ["-un"]))?.trim() ?? "root";
    const client = new Child({
      name: "ssh",
      cmd: "ssh",
      args: [
        "-N",
        "-F",
        "/dev/null",
        "-i",
        `${dir}/client_key`,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        `UserKnownHostsFile=${dir}/known_hosts`,
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        `Ciphers=${SSH_CIPHER}`,
        "-o",
        "Compression=no",
        "-o",
        "LogLevel=ERROR",
        "-p",
        String(sshdPort),
        "-L",
        `127.0.0.1:${port}:127.0.0.1:${target}`,
        `${user}@127.0.0.1`,
      ],
    });
    started.push(client);
    await Promise.race([
      waitForPort(port, timeoutMs),
      client.status.then((s) => {
        throw new Error(`ssh exited with code ${s.code}\n${client.tail()}\n${server.tail()}`);
      }),
    ]);
    // The session process (sshd forks one per login, and under privilege separation a child
    // of that) does the forwarding: measure every descendant of the listening sshd.
    const deadline = Date.now() + timeoutMs;
    let session = descendantsOf(server.pid);
    while (session.length === 0 && Date.now() < deadline) {
      await sleep(20);
      session = descendantsOf(server.pid);
    }
    const pids: Record<string, number> = { ssh: client.pid };
    // The last one is the post-authentication process that moves the bytes.
    session.forEach((
      pid,
      i,
    ) => (pids[i === session.length - 1 ? "sshd" : `sshd-monitor${i}`] = pid));
    return { port, pids, stop: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
