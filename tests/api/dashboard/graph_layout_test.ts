// The network picture's layout, without a browser: this node in the centre, groups in their
// own sectors, and at every size up to 80 nodes no two nodes, labels or group names on top of
// each other and nothing outside the viewBox (label boxes estimated with the layout's own
// generous glyph width; the Chromium test measures the real text).
import assert from "node:assert/strict";
import {
  type GraphLayout,
  layoutGraph,
  type LayoutNodeInput,
} from "../../../src/api/dashboard/graph_layout.ts";

type Point = [number, number];
type Quad = [Point, Point, Point, Point];

/** The label's box as drawn: anchored, rotated about its anchor. */
function labelQuad(layout: GraphLayout, node: GraphLayout["nodes"][number]): Quad {
  const w = node.labelWidth;
  const left = node.labelAnchor === "start" ? 0 : node.labelAnchor === "end" ? -w : -w / 2;
  // Radial labels are centred on their baseline (dominant-baseline: central).
  const [top, bottom] = layout.mode === "radial"
    ? [-layout.fontSize / 2, layout.fontSize / 2]
    : [-layout.fontSize * 0.8, layout.fontSize * 0.25];
  const a = (node.labelRotate * Math.PI) / 180;
  const at = ([x, y]: Point): Point => [
    node.labelX + x * Math.cos(a) - y * Math.sin(a),
    node.labelY + x * Math.sin(a) + y * Math.cos(a),
  ];
  return [at([left, top]), at([left + w, top]), at([left + w, bottom]), at([left, bottom])];
}

function groupQuad(layout: GraphLayout, group: GraphLayout["groups"][number]): Quad {
  // Bold letter-spaced capitals: 9 units a character.
  const w = (Math.min(group.name.length, 16) + 3 + String(group.count).length) * 9;
  const left = group.labelAnchor === "start"
    ? group.labelX
    : group.labelAnchor === "end"
    ? group.labelX - w
    : group.labelX - w / 2;
  const top = group.labelY - layout.fontSize * 0.8;
  const bottom = group.labelY + layout.fontSize * 0.25;
  return [[left, top], [left + w, top], [left + w, bottom], [left, bottom]];
}

function circleQuad(x: number, y: number, r: number): Quad {
  return [[x - r, y - r], [x + r, y - r], [x + r, y + r], [x - r, y + r]];
}

/** Separating-axis test for two convex quadrilaterals. */
export function quadsOverlap(a: Quad, b: Quad): boolean {
  for (const quad of [a, b]) {
    for (let i = 0; i < 4; i++) {
      const [x1, y1] = quad[i]!;
      const [x2, y2] = quad[(i + 1) % 4]!;
      const axis: Point = [y1 - y2, x2 - x1];
      const project = (q: Quad) => q.map(([x, y]) => x * axis[0] + y * axis[1]);
      const pa = project(a);
      const pb = project(b);
      if (Math.max(...pa) <= Math.min(...pb) || Math.max(...pb) <= Math.min(...pa)) return false;
    }
  }
  return true;
}

function nodesOf(sizes: number[], labelOf = (g: number, i: number) => `worker-${g}-${i}`) {
  const groups = sizes.map((_, g) => g === sizes.length - 1 && g > 0 ? "members" : `pool-${g}`);
  const nodes: LayoutNodeInput[] = [];
  sizes.forEach((size, g) => {
    for (let i = 0; i < size; i++) {
      nodes.push({ id: `${g}/${i}`, label: labelOf(g, i), group: groups[g]! });
    }
  });
  return { nodes, groups };
}

function assertReadable(layout: GraphLayout, what: string): void {
  const [minX, minY, width, height] = layout.viewBox;
  const inside = (q: Quad) =>
    q.every(([x, y]) => x >= minX && y >= minY && x <= minX + width && y <= minY + height);
  const selfText = (y: number): Quad => {
    const half = ("this node".length * 7) / 2;
    const [top, bottom] = [y - layout.fontSize * 0.8, y + layout.fontSize * 0.25];
    return [[-half, top], [half, top], [half, bottom], [-half, bottom]];
  };
  const items: { name: string; quad: Quad; node?: string }[] = [
    { name: "self", quad: circleQuad(0, 0, layout.selfRadius) },
    { name: "self label", quad: selfText(layout.selfLabelY) },
  ];
  for (const node of layout.nodes) {
    items.push({ name: `node ${node.id}`, quad: circleQuad(node.x, node.y, layout.nodeRadius) });
    items.push({ name: `label ${node.id}`, quad: labelQuad(layout, node), node: node.id });
  }
  for (const group of layout.groups) {
    items.push({ name: `group ${group.name}`, quad: groupQuad(layout, group) });
  }
  for (const item of items) {
    assert.ok(inside(item.quad), `${what}: ${item.name} outside the viewBox`);
  }
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      const [a, b] = [items[i]!, items[j]!];
      // A node's label starts next to its own circle.
      if (a.name === `node ${b.node}` || b.name === `node ${a.node}`) continue;
      assert.ok(!quadsOverlap(a.quad, b.quad), `${what}: ${a.name} overlaps ${b.name}`);
    }
  }
}

Deno.test("layoutGraph: the demo's three workers around this node, the first at the top", () => {
  const layout = layoutGraph(nodesOf([3], (_, i) => ["alpha", "bravo", "charlie"][i]!));
  assert.equal(layout.mode, "horizontal");
  assert.deepEqual(layout.nodes.map((n) => n.id), ["0/0", "0/1", "0/2"]);
  const [top] = layout.nodes;
  assert.ok(Math.abs(top!.x) < 1e-9 && top!.y < 0, "first worker straight above this node");
  const distances = layout.nodes.map((n) => Math.hypot(n.x, n.y));
  for (const d of distances) assert.ok(Math.abs(d - layout.radius) < 1e-9);
  // Evenly spread: 120° apart.
  const angles = layout.nodes.map((n) => n.angle);
  assert.ok(Math.abs(angles[1]! - angles[0]! - (2 * Math.PI) / 3) < 1e-9);
  assert.equal(layout.groups.length, 1);
  assert.match(layout.groups[0]!.bandPath, /^M.*Z$/);
  assertReadable(layout, "demo");
});

Deno.test("layoutGraph: each group has its own sector, in the given order, nodes inside it", () => {
  const layout = layoutGraph(nodesOf([4, 2, 5]));
  assert.deepEqual(layout.groups.map((g) => g.name), ["pool-0", "pool-1", "members"]);
  for (const group of layout.groups) {
    assert.ok(group.endAngle > group.startAngle);
    const inside = layout.nodes.filter((n) =>
      n.angle > group.startAngle && n.angle < group.endAngle
    );
    assert.equal(inside.length, group.count, group.name);
  }
  for (let i = 1; i < layout.groups.length; i++) {
    assert.ok(layout.groups[i]!.startAngle >= layout.groups[i - 1]!.endAngle, "sectors apart");
  }
});

Deno.test("layoutGraph: long labels are cut to 16 characters", () => {
  const layout = layoutGraph(nodesOf([1], () => "a-very-long-worker-name-indeed"));
  assert.equal(layout.nodes[0]!.label, "a-very-long-wor…");
});

Deno.test("layoutGraph: readable at every size from 0 to 80 nodes, in 1 to 4 groups", () => {
  for (let n = 0; n <= 80; n++) {
    for (const groups of [1, 2, 3, 4]) {
      // Uneven groups: one big pool, small ones, a single-node group.
      const sizes = Array.from(
        { length: groups },
        (_, g) => g === 0 ? n - Math.floor(n / 3) * (groups - 1) : Math.floor(n / 3),
      );
      if (sizes.some((s) => s < 0)) continue;
      const label = (g: number, i: number) => `${"w".repeat(4 + ((g * 7 + i) % 13))}${i}`;
      assertReadable(layoutGraph(nodesOf(sizes.filter((s) => s > 0), label)), `${sizes}`);
    }
  }
});

Deno.test("layoutGraph: 50 nodes switch to radial labels on a wider circle", () => {
  const layout = layoutGraph(nodesOf([30, 12, 8]));
  assert.equal(layout.mode, "radial");
  assert.equal(layout.nodes.length, 50);
  // Neighbours on the circle are further apart than a label is high.
  const sorted = [...layout.nodes].sort((a, b) => a.angle - b.angle);
  for (let i = 1; i < sorted.length; i++) {
    const d = Math.hypot(sorted[i]!.x - sorted[i - 1]!.x, sorted[i]!.y - sorted[i - 1]!.y);
    assert.ok(d >= 2 * layout.nodeRadius + 4, `nodes ${i - 1} and ${i}: ${d}`);
  }
  assertReadable(layout, "50 nodes");
});
