// The page keeps its own copy of the node's history: the whole of it once, then only the
// samples after the last one it holds (`/api/history?since=`), appended here and trimmed to
// the last 15 minutes. Pure and self-contained: the page embeds `String(mergeHistory)`.
import type { HistoryJson } from "../history.ts";

/**
 * Appends the samples and events of `incoming` newer than those of `held` and drops what is
 * older than `horizonMs` before the newest sample. A worker new in `incoming` gets `null`s for
 * the samples before it; a worker absent from `incoming` gets `null`s for the new samples; a
 * worker with no value left after trimming is dropped.
 */
export function mergeHistory(
  held: HistoryJson | null,
  incoming: HistoryJson,
  horizonMs: number,
): HistoryJson {
  const lastHeld = held !== null && held.at.length > 0 ? held.at[held.at.length - 1]! : -Infinity;
  const fresh: number[] = [];
  incoming.at.forEach((t, i) => {
    if (t > lastHeld) fresh.push(i);
  });
  const base: HistoryJson = held ??
    ({ ...incoming, at: [], totals: {}, workers: [], events: [] } as unknown as HistoryJson);
  const heldCount = base.at.length;
  const nulls = (n: number): null[] => new Array(n).fill(null);
  const append = (
    old: (number | null)[] | undefined,
    added: (number | null)[] | undefined,
  ): (number | null)[] =>
    (old ?? nulls(heldCount)).concat(
      fresh.map((i) => added === undefined ? null : added[i] ?? null),
    );

  const totals: Record<string, (number | null)[]> = {};
  const totalNames = new Set([...Object.keys(base.totals), ...Object.keys(incoming.totals)]);
  for (const name of totalNames) {
    totals[name] = append(
      (base.totals as Record<string, (number | null)[]>)[name],
      (incoming.totals as Record<string, (number | null)[]>)[name],
    );
  }
  const byId = new Map<
    string,
    { id: string; name: string; series: Record<string, (number | null)[]> }
  >();
  for (const worker of base.workers) {
    byId.set(worker.id, { id: worker.id, name: worker.name, series: { ...worker.series } });
  }
  for (const worker of incoming.workers) {
    const known = byId.get(worker.id);
    if (known === undefined) {
      byId.set(worker.id, { id: worker.id, name: worker.name, series: {} });
    } else if (worker.name) known.name = worker.name;
  }
  const incomingById = new Map(incoming.workers.map((w) => [w.id, w]));
  for (const worker of byId.values()) {
    const added = incomingById.get(worker.id)?.series as
      | Record<string, (number | null)[]>
      | undefined;
    const names = new Set([...Object.keys(worker.series), ...Object.keys(added ?? {})]);
    for (const name of names) worker.series[name] = append(worker.series[name], added?.[name]);
  }
  const at = base.at.concat(fresh.map((i) => incoming.at[i]!));
  const events = base.events.concat(incoming.events.filter((e) => e.at > lastHeld));

  // Trim to the horizon.
  const newest = at.length > 0 ? at[at.length - 1]! : -Infinity;
  let first = 0;
  while (first < at.length && at[first]! < newest - horizonMs) first++;
  const cut = (values: (number | null)[]): (number | null)[] => values.slice(first);
  const workers = [...byId.values()]
    .map((w) => ({
      id: w.id,
      name: w.name,
      series: Object.fromEntries(Object.entries(w.series).map(([k, v]) => [k, cut(v)])),
    }))
    .filter((w) => Object.values(w.series).some((v) => v.some((x) => x !== null)))
    .sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return {
    ...incoming,
    at: at.slice(first),
    totals: Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, cut(v)])),
    workers,
    events: events.filter((e) => e.at >= newest - horizonMs),
  } as HistoryJson;
}
