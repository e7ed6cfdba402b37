// Headless Chromium through playwright-core, the one browser setup of the tests: Debian's
// /usr/bin/chromium, a fresh profile per launch, and nothing that talks to the outside world.
import { type Browser, chromium, type Page } from "playwright-core";

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether the browser is installed; browser tests are skipped (with a warning) when it is not. */
export function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** Warns once, at module load of a browser test, that it is skipped. */
export function chromiumOrWarn(testFile: string): boolean {
  const present = hasChromium();
  if (!present) console.warn(`${testFile}: skipped, no Chromium at ${CHROMIUM}`);
  return present;
}

// No background traffic: the tests stay on loopback.
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/**
 * Launches headless Chromium with a fresh profile (playwright makes a temporary user data
 * directory per launch). `extraArgs` adds switches such as `--host-resolver-rules`.
 */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [...ARGS, ...extraArgs],
    timeout: 15_000,
  });
}

/** Records what a user would notice as broken: console errors, page errors, failed requests. */
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("requestfailed", (req) => {
    problems.push(`request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText}`);
  });
  page.on("response", (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  return problems;
}
