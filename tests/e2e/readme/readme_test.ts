import { privateNamespaceUnavailable } from "../../_helpers/namespaces.ts";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readmeBlocks, readmeScript } from "./readme_script.ts";

const REPO = dirname(dirname(dirname(dirname(fileURLToPath(import.meta.url)))));

const unavailable = privateNamespaceUnavailable(["curl"]);
if (unavailable !== undefined) {
  console.warn(`README test skipped: needs a private network namespace, but ${unavailable}`);
}

/** A fresh copy of the checkout (tracked and new files), sharing node_modules. */
async function freshCopy(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "p2p-readme-" });
  const listed = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: REPO,
    stdout: "piped",
  }).output();
  for (const file of new TextDecoder().decode(listed.stdout).split("\0").filter(Boolean)) {
    const from = join(REPO, file);
    try {
      const info = await Deno.lstat(from);
      if (!info.isFile) continue;
    } catch {
      continue; // deleted in the work tree
    }
    await Deno.mkdir(dirname(join(dir, file)), { recursive: true });
    await Deno.copyFile(from, join(dir, file));
  }
  await Deno.symlink(join(REPO, "node_modules"), join(dir, "node_modules"));
  return dir;
}

Deno.test({
  name: "README: every sh and ts block runs as written, in order, in a fresh copy, offline",
  ignore: unavailable !== undefined,
  async fn() {
    const work = await freshCopy();
    const readme = await Deno.readTextFile(join(REPO, "README.md"));
    const blocks = readmeBlocks(readme);
    // JSR is the documented no-clone path; here it is this checkout.
    const script = readmeScript(
      blocks,
      (body) => body.replaceAll("jsr:@p2p/p2p/cli", join(work, "main.ts")),
    );
    await Deno.writeTextFile(join(work, "readme.sh"), script);
    const child = new Deno.Command("setsid", {
      // One network namespace of our own: only `lo`; mDNS and every port stay inside it,
      // and the public bootstrap list and DNS are unreachable.
      args: ["unshare", "-n", "bash", "-c", "ip link set lo up && exec bash readme.sh"],
      cwd: work,
      env: freshEnv(work),
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    const timer = setTimeout(() => kill(child.pid, "SIGKILL"), 240_000);
    try {
      const out = await child.output();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(
        out.code,
        0,
        `the README failed:\n${stdout}\n--- stderr\n${stderr.slice(-8000)}`,
      );
      const ran = blocks.filter((b) => b.skip === undefined).length;
      assert.equal(stderr.split("\n").filter((l) => l.startsWith("=== README.md:")).length, ran);
    } finally {
      clearTimeout(timer);
      kill(child.pid, "SIGKILL");
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "README: every skipped block says why, and the blocks that run cover each section",
  fn() {
    const blocks = readmeBlocks(Deno.readTextFileSync(join(REPO, "README.md")));
    for (const block of blocks.filter((b) => b.skip !== undefined)) {
      assert.ok(block.skip!.length > 10, `README.md:${block.line} skipped without a reason`);
    }
    const sections = new Set(blocks.filter((b) => b.skip === undefined).map((b) => b.section));
    for (
      const name of [
        "Use as a library",
        "Tokens",
        "Nodes and the ledger",
        "Services: expose and connect",
        "Workers and discovery",
        "Federated load balancer",
        "API, dashboard and metrics",
      ]
    ) {
      assert.ok(sections.has(name), `no block runs in "${name}"`);
    }
  },
});

Deno.test({
  name: "the CLI installs from a path as `deno install -g -A -n p2p` does from JSR",
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "p2p-install-" });
    try {
      const install = await new Deno.Command(Deno.execPath(), {
        // From a path, the package's import map comes from --config (JSR reads it itself).
        args: [
          "install",
          "-g",
          "-A",
          "-n",
          "p2p",
          "--root",
          root,
          "--config",
          join(REPO, "deno.json"),
          join(REPO, "main.ts"),
        ],
        cwd: REPO,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(install.code, 0, new TextDecoder().decode(install.stderr));
      const version = await new Deno.Command(join(root, "bin", "p2p"), {
        args: ["--version"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(version.code, 0, new TextDecoder().decode(version.stderr));
      const { version: expected } = JSON.parse(
        await Deno.readTextFile(join(REPO, "deno.json")),
      ) as { version: string };
      assert.equal(new TextDecoder().decode(version.stdout).trim(), expected);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

/** This environment without p2p's own variables, as a new shell would have it. */
function freshEnv(home: string): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([name]) =>
      !/^(P2P_|LOCALAI_|TOKEN$|EDGEVPN)/.test(name)
    ),
  );
  // Deno's cache stays where it is (offline); HOME is the copy, so nothing lands in the user's.
  env.DENO_DIR ??= denoDir();
  return { ...env, HOME: home, NO_COLOR: "1" };
}

function denoDir(): string {
  const info = new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
    .outputSync();
  return (JSON.parse(new TextDecoder().decode(info.stdout)) as { denoDir: string }).denoDir;
}

function kill(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal); // the whole session setsid made
  } catch {
    // already gone
  }
}
