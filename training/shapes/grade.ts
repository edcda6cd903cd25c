// Aggregates the exact per-attribute grades of lib/data/shapes/score.ts over a prompt set: the share of checks
// passed per attribute, all-attributes-correct, single- vs two-object scenes, and for each held-out colour–shape
// pair how often its object came out right (its colour and its shape both found).
import { sceneObjects } from "../../lib/data/shapes/caption";
import type { Check, Score } from "../../lib/data/shapes/score";

export const ATTRIBUTES = ["colour", "shape", "size", "position", "relation", "count"] as const satisfies readonly Check["attribute"][];

export interface Rate {
  /** Checks (or images) counted. */
  n: number;
  /** Share passed, 0..1 (null when n = 0). */
  rate: number | null;
}

export interface GradeReport {
  images: number;
  allCorrect: Rate;
  byAttribute: Record<(typeof ATTRIBUTES)[number], Rate>;
  byObjects: { one: Rate; two: Rate };
  /** Per held-out pair ("red triangle"): images whose caption has it, all-correct, and the pair's object right. */
  byHeldOutPair: Record<string, { allCorrect: Rate; pairCorrect: Rate }>;
}

class Counter {
  n = 0;
  passed = 0;
  add(pass: boolean): void {
    this.n++;
    if (pass) this.passed++;
  }
  get value(): Rate {
    return { n: this.n, rate: this.n ? this.passed / this.n : null };
  }
}

const pairOf = (o: { colour: string; shape: string }) => `${o.colour} ${o.shape}`;

/** The report over every (image, grade) of a set; `heldOutPairs` names the pairs to break out. */
export function gradeReport(scores: readonly Score[], heldOutPairs: readonly string[] = []): GradeReport {
  const all = new Counter();
  const attr = Object.fromEntries(ATTRIBUTES.map((a) => [a, new Counter()])) as Record<(typeof ATTRIBUTES)[number], Counter>;
  const objects = { one: new Counter(), two: new Counter() };
  const pairs = new Map(heldOutPairs.map((p) => [p, { allCorrect: new Counter(), pairCorrect: new Counter() }]));
  for (const s of scores) {
    all.add(s.pass);
    for (const c of s.checks) attr[c.attribute].add(c.pass);
    objects[s.scene.kind].add(s.pass);
    const objs = sceneObjects(s.scene);
    const seen = new Set<string>();
    objs.forEach((o, i) => {
      const p = pairs.get(pairOf(o));
      if (!p) return;
      const right = s.checks.filter((c) => c.object === i && (c.attribute === "colour" || c.attribute === "shape")).every((c) => c.pass);
      p.pairCorrect.add(right);
      if (!seen.has(pairOf(o))) p.allCorrect.add(s.pass);
      seen.add(pairOf(o));
    });
  }
  return {
    images: scores.length,
    allCorrect: all.value,
    byAttribute: Object.fromEntries(ATTRIBUTES.map((a) => [a, attr[a].value])) as GradeReport["byAttribute"],
    byObjects: { one: objects.one.value, two: objects.two.value },
    byHeldOutPair: Object.fromEntries(
      [...pairs].map(([p, c]) => [p, { allCorrect: c.allCorrect.value, pairCorrect: c.pairCorrect.value }]),
    ),
  };
}

const pct = (r: Rate) => (r.rate === null ? "—" : `${(100 * r.rate).toFixed(1)} %`);

/** One markdown table: a row per set, a column per attribute, all-correct, one- and two-object all-correct. */
export function gradeTable(rows: { name: string; report: GradeReport }[]): string {
  const head = ["set", "images", ...ATTRIBUTES, "all correct", "1 object", "2 objects"];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const { name, report: r } of rows)
    lines.push(
      `| ${[name, String(r.images), ...ATTRIBUTES.map((a) => pct(r.byAttribute[a])), pct(r.allCorrect), pct(r.byObjects.one), pct(r.byObjects.two)].join(" | ")} |`,
    );
  return lines.join("\n");
}
