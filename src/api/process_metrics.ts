import { Gauge, type Registry } from "prom-client";

/**
 * The process series of a node, read from Deno itself: prom-client's default collectors read
 * Node's process internals and report 0 for memory and descriptors under Deno.
 * `p2p_process_open_fds` is only there where `/proc/self/fd` exists (Linux).
 *
 * @param registry Where to register the series.
 */
export function registerProcessMetrics(registry: Registry): void {
  const memory = (field: keyof Deno.MemoryUsage) => () => Deno.memoryUsage()[field];
  const series: [string, string, () => number][] = [
    ["p2p_process_resident_memory_bytes", "Resident memory size in bytes", memory("rss")],
    ["p2p_process_heap_used_bytes", "V8 heap in use, in bytes", memory("heapUsed")],
    ["p2p_process_heap_total_bytes", "V8 heap allocated, in bytes", memory("heapTotal")],
    [
      "p2p_process_external_memory_bytes",
      "Memory of buffers outside the V8 heap",
      memory("external"),
    ],
    [
      "p2p_process_uptime_seconds",
      "Seconds since the process started",
      () => performance.now() / 1000,
    ],
  ];
  if (openFds() !== undefined) {
    series.push(["p2p_process_open_fds", "Open file descriptors", () => openFds() ?? 0]);
  }
  for (const [name, help, read] of series) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  }
}

function openFds(): number | undefined {
  try {
    let count = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) count++;
    return count;
  } catch {
    return undefined;
  }
}
