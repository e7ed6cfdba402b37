// Where the network picture puts each node: this node in the centre, the others on a circle,
// each group (a pool, connected peers, ledger members) in its own sector with a band behind
// it. Up to 12 nodes the labels are horizontal; beyond, they run along the radius (as in a
// radial tree), which keeps 50+ labels apart: neighbours are a fixed arc apart, more than the
// text's height. Pure and self-contained (the page embeds `String(layoutGraph)`), in the SVG's
// user units, centred on (0, 0).

/** A node to place. */
export interface LayoutNodeInput {
  id: string;
  label: string;
  group: string;
}

/** A placed node; its label is anchored at (`labelX`, `labelY`), rotated by `labelRotate`°. */
export interface PlacedNode {
  id: string;
  x: number;
  y: number;
  /** Radians, 0 = east, clockwise (SVG's y points down). */
  angle: number;
  /** The label as drawn (truncated to 16 characters). */
  label: string;
  labelX: number;
  labelY: number;
  labelAnchor: "start" | "middle" | "end";
  labelRotate: number;
  /** The label's box before rotation: its anchor-relative x range and the text's width. */
  labelWidth: number;
}

/** A group's sector: the band behind its nodes and where its name goes. */
export interface PlacedGroup {
  name: string;
  count: number;
  startAngle: number;
  endAngle: number;
  /** SVG path of the band (an annular sector, or a whole ring). */
  bandPath: string;
  labelX: number;
  labelY: number;
  labelAnchor: "start" | "middle" | "end";
}

/** The whole placement. */
export interface GraphLayout {
  /** `minX minY width height` for the SVG's viewBox (fits every label). */
  viewBox: [number, number, number, number];
  radius: number;
  nodeRadius: number;
  selfRadius: number;
  /** Baseline of "this node", centred under it. */
  selfLabelY: number;
  fontSize: number;
  mode: "horizontal" | "radial";
  nodes: PlacedNode[];
  groups: PlacedGroup[];
}

/** Places `nodes` (in the order given) by group, groups in the order of `groups`. */
export function layoutGraph(input: { nodes: LayoutNodeInput[]; groups: string[] }): GraphLayout {
  const FONT = 12;
  // A generous average glyph width of system-ui at 12 px: boxes are estimated from it.
  const CHAR_WIDTH = 7;
  // Group names are bold capitals, letter-spaced: wider.
  const GROUP_CHAR_WIDTH = 9;
  const MAX_CHARS = 16;
  const SELF_RADIUS = 20;
  const n = input.nodes.length;
  const radial = n > 12;
  const nodeRadius = radial ? 9 : 12;
  const slotPx = radial ? 28 : 130;
  const minSlots = radial ? 4 : 1;
  const groups = input.groups.map((name) => ({
    name,
    members: input.nodes.filter((node) => node.group === name),
  })).filter((g) => g.members.length > 0);
  const gap = groups.length > 1 ? (radial ? 2 : 1) : 0;
  const slotsOf = (count: number): number => Math.max(count, minSlots) + gap;
  const totalSlots = groups.reduce((sum, g) => sum + slotsOf(g.members.length), 0);
  const radius = Math.max(radial ? 200 : 160, (totalSlots * slotPx) / (2 * Math.PI));
  const unit = totalSlots > 0 ? (2 * Math.PI) / totalSlots : 0;
  const truncate = (text: string): string =>
    text.length > MAX_CHARS ? text.slice(0, MAX_CHARS - 1) + "…" : text;
  const point = (angle: number, r: number): [number, number] => [
    r * Math.cos(angle),
    r * Math.sin(angle),
  ];
  const arcPath = (start: number, end: number, inner: number, outer: number): string => {
    const f = (v: number): string => v.toFixed(1);
    if (end - start >= 2 * Math.PI - 1e-6) {
      // A whole ring: two half circles each way (one arc cannot start and end at one point).
      return "M" + f(outer) + " 0A" + f(outer) + " " + f(outer) + " 0 1 1 " + f(-outer) +
        " 0A" + f(outer) + " " + f(outer) + " 0 1 1 " + f(outer) + " 0ZM" + f(inner) +
        " 0A" + f(inner) + " " + f(inner) + " 0 1 0 " + f(-inner) + " 0A" + f(inner) + " " +
        f(inner) + " 0 1 0 " + f(inner) + " 0Z";
    }
    const large = end - start > Math.PI ? 1 : 0;
    const [x0, y0] = point(start, outer);
    const [x1, y1] = point(end, outer);
    const [x2, y2] = point(end, inner);
    const [x3, y3] = point(start, inner);
    return "M" + f(x0) + " " + f(y0) + "A" + f(outer) + " " + f(outer) + " 0 " + large +
      " 1 " + f(x1) + " " + f(y1) + "L" + f(x2) + " " + f(y2) + "A" + f(inner) + " " +
      f(inner) + " 0 " + large + " 0 " + f(x3) + " " + f(y3) + "Z";
  };

  // Bounding box of everything drawn, to fit the viewBox.
  let minX = -SELF_RADIUS - 20;
  let maxX = SELF_RADIUS + 20;
  let minY = -SELF_RADIUS;
  // "this node", under its circle.
  const selfLabelY = SELF_RADIUS + FONT + 4;
  let maxY = selfLabelY + 4;
  const include = (x: number, y: number): void => {
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  };

  const nodes: PlacedNode[] = [];
  const placedGroups: PlacedGroup[] = [];
  const firstPad = groups.length > 0
    ? (Math.max(groups[0]!.members.length, minSlots) - groups[0]!.members.length) / 2
    : 0;
  let cursor = -Math.PI / 2 - (gap / 2 + firstPad + 0.5) * unit;
  const bandHalf = nodeRadius + 6;
  for (const group of groups) {
    const count = group.members.length;
    const slots = slotsOf(count);
    const start = cursor + (gap / 2) * unit;
    const end = cursor + (slots - gap / 2) * unit;
    const pad = (Math.max(count, minSlots) - count) / 2;
    group.members.forEach((member, i) => {
      const angle = start + (pad + i + 0.5) * unit;
      const [x, y] = point(angle, radius);
      const label = truncate(member.label);
      const width = label.length * CHAR_WIDTH;
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      const reach = nodeRadius + 6;
      let labelX: number;
      let labelY: number;
      let labelAnchor: PlacedNode["labelAnchor"];
      let labelRotate = 0;
      if (radial) {
        // Along the radius, read left to right on both halves.
        labelX = x + cos * reach;
        labelY = y + sin * reach;
        const degrees = (angle * 180) / Math.PI;
        labelRotate = cos >= 0 ? degrees : degrees + 180;
        labelAnchor = cos >= 0 ? "start" : "end";
        const [ex, ey] = point(angle, radius + reach + width);
        include(ex, ey);
      } else if (Math.abs(cos) > 0.35) {
        labelAnchor = cos > 0 ? "start" : "end";
        labelX = x + cos * reach;
        labelY = y + sin * reach + FONT * 0.35;
        include(labelX + (cos > 0 ? width : -width), labelY - FONT);
        include(labelX, labelY + 4);
      } else {
        labelAnchor = "middle";
        labelX = x;
        labelY = sin < 0 ? y - reach : y + reach + FONT * 0.8;
        include(x - width / 2, labelY - FONT);
        include(x + width / 2, labelY + 4);
      }
      include(x - nodeRadius, y - nodeRadius);
      include(x + nodeRadius, y + nodeRadius);
      nodes.push({
        id: member.id,
        x,
        y,
        angle,
        label,
        labelX,
        labelY,
        labelAnchor,
        labelRotate,
        labelWidth: width,
      });
    });
    // The name goes between two of the group's nodes (not over one, where its edge runs),
    // as near the middle of the sector as possible.
    const full = end - start >= 2 * Math.PI - 1e-6;
    const angles = nodes.slice(-count).map((node) => node.angle);
    const between = angles.slice(1).map((a, i) => (a + angles[i]!) / 2);
    if (full && count > 1) {
      between.push((angles[count - 1]! + angles[0]! + 2 * Math.PI) / 2);
    }
    // A lone node: on its spoke, which says whose name it is.
    if (between.length === 0) between.push(angles[0]!);
    // A whole ring has no middle: its name goes at the bottom, under this node.
    const centre = full ? Math.PI / 2 : (start + end) / 2;
    const distance = (a: number): number => {
      const d = Math.abs(a - centre) % (2 * Math.PI);
      return Math.min(d, 2 * Math.PI - d);
    };
    const middle = between.reduce((best, a) => distance(a) < distance(best) ? a : best);
    const name = truncate(group.name) + " · " + count;
    const nameWidth = name.length * GROUP_CHAR_WIDTH;
    // Radial labels fill the outside: group names go beyond them. Horizontal labels spread
    // sideways: group names go inside the ring, where only the edges are.
    const nameRadius = radial
      ? radius + nodeRadius + 8 + MAX_CHARS * CHAR_WIDTH + 16
      : radius * 0.6;
    const [gx, gy] = point(middle, nameRadius);
    const cosMiddle = Math.cos(middle);
    // Outside, anchored away from the centre on the sides, clear of the node labels.
    const labelAnchor: PlacedGroup["labelAnchor"] = !radial || Math.abs(cosMiddle) <= 0.35
      ? "middle"
      : cosMiddle > 0
      ? "start"
      : "end";
    const left = labelAnchor === "start"
      ? gx
      : labelAnchor === "end"
      ? gx - nameWidth
      : gx - nameWidth / 2;
    include(left, gy - FONT);
    include(left + nameWidth, gy + 4);
    include(...point(middle, radius + bandHalf));
    placedGroups.push({
      name: group.name,
      count,
      startAngle: start,
      endAngle: end,
      bandPath: arcPath(start, end, radius - bandHalf, radius + bandHalf),
      labelX: gx,
      labelY: gy + FONT * 0.35,
      labelAnchor,
    });
    cursor += slots * unit;
  }
  if (placedGroups.length > 0) {
    include(-radius - bandHalf, -radius - bandHalf);
    include(radius + bandHalf, radius + bandHalf);
  }
  const margin = 12;
  return {
    viewBox: [
      Math.floor(minX - margin),
      Math.floor(minY - margin),
      Math.ceil(maxX - minX + 2 * margin),
      Math.ceil(maxY - minY + 2 * margin),
    ],
    radius,
    nodeRadius,
    selfRadius: SELF_RADIUS,
    selfLabelY,
    fontSize: FONT,
    mode: radial ? "radial" : "horizontal",
    nodes,
    groups: placedGroups,
  };
}
