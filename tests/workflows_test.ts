import assert from "node:assert/strict";
import { parse } from "yaml";
import { runtimeFlagsOf } from "../bench/lib/entry.ts";

type Mapping = Record<string, unknown>;

const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
  "aarch64-pc-windows-msvc",
] as const;

const WORKFLOWS = ["ci.yml", "release.yml", "publish.yml"] as const;

function isMapping(value: unknown): value is Mapping {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function mapping(value: unknown, what: string): Mapping {
  assert.ok(isMapping(value), `${what} should be a mapping`);
  return value;
}

async function loadYaml(path: string): Promise<Mapping> {
  const text = await Deno.readTextFile(new URL(`../.github/${path}`, import.meta.url));
  return mapping(parse(text), path);
}

function loadWorkflow(file: string): Promise<Mapping> {
  return loadYaml(`workflows/${file}`);
}

function jobs(workflow: Mapping): Map<string, Mapping> {
  const all = mapping(workflow["jobs"], "jobs");
  return new Map(Object.entries(all).map(([name, job]) => [name, mapping(job, `job ${name}`)]));
}

function job(workflow: Mapping, name: string): Mapping {
  const found = jobs(workflow).get(name);
  assert.ok(found !== undefined, `job ${name} should exist`);
  return found;
}

function steps(job: Mapping): Mapping[] {
  const list = job["steps"];
  assert.ok(Array.isArray(list), "steps should be a list");
  return list.map((step, i) => mapping(step, `step ${i}`));
}

function allSteps(workflow: Mapping): Mapping[] {
  return [...jobs(workflow).values()].flatMap(steps);
}

function runScripts(workflow: Mapping): string[] {
  return allSteps(workflow)
    .map((step) => step["run"])
    .filter((run): run is string => typeof run === "string");
}

function setupDenoSteps(workflow: Mapping): Mapping[] {
  return allSteps(workflow).filter((step) =>
    typeof step["uses"] === "string" && step["uses"].startsWith("denoland/setup-deno@")
  );
}

async function denoJsonVersion(): Promise<string> {
  const text = await Deno.readTextFile(new URL("../deno.json", import.meta.url));
  const config = mapping(JSON.parse(text), "deno.json");
  const version = config["version"];
  assert.equal(typeof version, "string");
  return String(version);
}

for (const file of WORKFLOWS) {
  Deno.test(`${file} parses to a mapping with on and jobs`, async () => {
    const workflow = await loadWorkflow(file);
    assert.ok("on" in workflow, `${file} should have an on key`);
    assert.ok(jobs(workflow).size > 0, `${file} should have at least one job`);
  });

  Deno.test(`${file} pins setup-deno to 2.9.6`, async () => {
    const workflow = await loadWorkflow(file);
    const setups = setupDenoSteps(workflow);
    assert.ok(setups.length > 0, `${file} should use denoland/setup-deno`);
    for (const step of setups) {
      assert.equal(step["uses"], "denoland/setup-deno@v2");
      const withs = mapping(step["with"], "setup-deno with");
      assert.equal(String(withs["deno-version"]), "2.9.6");
      assert.equal(withs["cache"], true);
    }
  });
}

Deno.test("ci.yml runs on push and pull_request with read-only permissions", async () => {
  const ci = await loadWorkflow("ci.yml");
  const on = mapping(ci["on"], "on");
  assert.ok("push" in on);
  assert.ok("pull_request" in on);
  assert.deepEqual(ci["permissions"], { contents: "read" });
  for (const [name, ciJob] of jobs(ci)) {
    assert.equal(ciJob["runs-on"], "ubuntu-latest", `job ${name} should run on ubuntu-latest`);
    assert.ok(steps(ciJob).some((step) => step["uses"] === "actions/checkout@v4"));
  }
});

Deno.test("ci.yml runs install, fmt, lint, check, test and publish --dry-run", async () => {
  const runs = runScripts(await loadWorkflow("ci.yml"));
  assert.deepEqual(runs, [
    "deno install --frozen",
    "deno fmt --check",
    "deno lint",
    "deno task check",
    "deno task test",
    "deno publish --dry-run",
  ]);
});

Deno.test("release.yml triggers on v* tags", async () => {
  const release = await loadWorkflow("release.yml");
  const push = mapping(mapping(release["on"], "on")["push"], "on.push");
  assert.deepEqual(push["tags"], ["v*"]);
});

Deno.test("release.yml checks the tag against the deno.json version", async () => {
  const release = await loadWorkflow("release.yml");
  const verify = job(release, "verify");
  const scripts = steps(verify)
    .map((step) => step["run"])
    .filter((run): run is string => typeof run === "string");
  const check = scripts.find((run) => run.includes("${GITHUB_REF_NAME#v}"));
  assert.ok(check !== undefined, "verify should strip the v from the tag");
  assert.match(check, /deno\.json/);
  assert.match(check, /\.version/);
  assert.match(check, /exit 1/);

  for (const name of ["build", "smoke", "release"]) {
    assert.ok(jobs(release).has(name), `job ${name} should exist`);
  }
  assert.equal(job(release, "build")["needs"], "verify");
  assert.equal(job(release, "smoke")["needs"], "build");
  assert.equal(job(release, "release")["needs"], "build");
});

Deno.test("deno.json carries a semver version for v* release tags", async () => {
  const version = await denoJsonVersion();
  assert.match(version, /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/);
});

Deno.test("release.yml builds the six compile targets", async () => {
  const release = await loadWorkflow("release.yml");
  const build = job(release, "build");
  assert.equal(build["runs-on"], "ubuntu-latest");
  const strategy = mapping(build["strategy"], "strategy");
  const matrix = mapping(strategy["matrix"], "matrix");
  assert.deepEqual(matrix["target"], [...TARGETS]);
});

Deno.test("release.yml compiles the bundle with --target, a frozen lockfile and the task's flags", async () => {
  const release = await loadWorkflow("release.yml");
  const scripts = steps(job(release, "build"))
    .map((step) => step["run"])
    .filter((run): run is string => typeof run === "string");
  const bundleAt = scripts.findIndex((run) => run.trim() === "deno task bundle");
  const compileAt = scripts.findIndex((run) => run.includes("deno compile"));
  assert.ok(bundleAt >= 0, "a step should run deno task bundle");
  assert.ok(compileAt > bundleAt, "the compile step should come after the bundle");
  const compile = scripts[compileAt]!;
  assert.match(compile, /--target\s+"?\$\{?TARGET/);
  assert.match(compile, /--frozen/);
  assert.match(compile, /--output\s+"dist\/p2p-\$\{GITHUB_REF_NAME\}-\$\{TARGET\}\$\{ext\}"/);
  assert.match(compile, /dist\/bundle\/main\.js\s*$/);
  // The same runtime flags and permissions as `deno task compile`, which builds for this machine.
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const task = String(config.tasks.compile);
  assert.match(task, /dist\/bundle\/main\.js$/);
  const taskFlags = task.split(/\s+/).filter((f) => /^--(v8-flags|allow-|no-code-cache)/.test(f));
  assert.ok(taskFlags.length >= 8, `deno task compile has its flags: ${task}`);
  for (const flag of taskFlags) assert.ok(compile.includes(flag), `compile should pass ${flag}`);
});

Deno.test("deno task p2p, demo and compile run p2p with the same runtime flags", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const runtimeFlags = (name: string): string[] => runtimeFlagsOf(String(config.tasks[name]));
  const p2p = runtimeFlags("p2p");
  // What the Performance section measured: a 2 MiB young generation, no full collection below
  // 32 MiB of old generation, and no V8 code cache (less memory per process for a slower start).
  assert.ok(p2p.some((f) => f.includes("--max-semi-space-size=")), p2p.join(" "));
  assert.ok(p2p.some((f) => f.includes("--initial-old-space-size=32")), p2p.join(" "));
  assert.ok(p2p.includes("--no-code-cache"), p2p.join(" "));
  assert.deepEqual(runtimeFlags("demo"), p2p);
  assert.deepEqual(runtimeFlags("compile"), p2p);
});

Deno.test("release.yml writes sha256 checksums and creates the release", async () => {
  const release = await loadWorkflow("release.yml");
  const releaseJob = job(release, "release");
  assert.deepEqual(releaseJob["permissions"], { contents: "write" });
  const scripts = steps(releaseJob)
    .map((step) => step["run"])
    .filter((run): run is string => typeof run === "string");
  assert.ok(
    scripts.some((run) => /sha256sum \* > "p2p-\$\{GITHUB_REF_NAME\}-checksums\.txt"/.test(run)),
    "a step should write checksums with sha256sum",
  );
  const create = steps(releaseJob).find((step) =>
    typeof step["run"] === "string" && step["run"].includes("gh release create")
  );
  assert.ok(create !== undefined, "a step should run gh release create");
  assert.match(String(create["run"]), /--generate-notes/);
  assert.equal(mapping(create["env"], "env")["GH_TOKEN"], "${{ github.token }}");
});

Deno.test("release.yml smoke-runs the linux x64 binary with --version", async () => {
  const release = await loadWorkflow("release.yml");
  const smoke = job(release, "smoke");
  assert.equal(smoke["runs-on"], "ubuntu-latest");
  const scripts = steps(smoke)
    .map((step) => step["run"])
    .filter((run): run is string => typeof run === "string");
  assert.ok(
    scripts.some((run) => run.includes("x86_64-unknown-linux-gnu") && run.includes("--version")),
  );
});

Deno.test("publish.yml uses an OIDC token and runs deno publish", async () => {
  const publish = await loadWorkflow("publish.yml");
  const on = mapping(publish["on"], "on");
  assert.deepEqual(mapping(on["release"], "on.release")["types"], ["published"]);
  assert.ok("workflow_dispatch" in on);
  assert.deepEqual(publish["permissions"], { "contents": "read", "id-token": "write" });
  assert.ok(runScripts(publish).includes("deno publish"));
});

Deno.test("dependabot.yml updates github-actions weekly", async () => {
  const config = await loadYaml("dependabot.yml");
  assert.equal(config["version"], 2);
  const updates = config["updates"];
  assert.ok(Array.isArray(updates));
  const actions = updates.map((u, i) => mapping(u, `update ${i}`)).find((u) =>
    u["package-ecosystem"] === "github-actions"
  );
  assert.ok(actions !== undefined);
  assert.deepEqual(actions["schedule"], { interval: "weekly" });
});
