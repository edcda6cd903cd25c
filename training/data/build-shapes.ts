// Builds the shapes benchmark: seeded random scenes drawn by lib/data/shapes/render.ts. Train and val never
// contain a held-out colour–shape pair; test contains at least one in every image.
import { mulberry32 } from "../../lib/data/rng";
import { formatCaption, sceneObjects } from "../../lib/data/shapes/caption";
import { CANVAS, HELD_OUT_PAIRS, renderScene, sampleScene } from "../../lib/data/shapes/render";
import type { DatasetManifest, Split } from "../../lib/data/manifest";
import { writeDataset, type DatasetItem } from "./write-dataset";

export interface ShapesBuildOptions {
  outDir: string;
  seed: number;
  counts: Record<Split, number>;
  log?: (line: string) => void;
}

export const DEFAULT_SHAPES_COUNTS: Readonly<Record<Split, number>> = Object.freeze({ train: 20_000, val: 1_000, test: 1_000 });

export function buildShapes(options: ShapesBuildOptions): DatasetManifest {
  const items: DatasetItem[] = [];
  (["train", "val", "test"] as const).forEach((split, k) => {
    // One stream per split, so changing the size of one split leaves the others' images unchanged.
    const rand = mulberry32(options.seed * 31 + k);
    for (let i = 0; i < options.counts[split]; i++) {
      const scene = sampleScene(rand, split === "test" ? "require" : "exclude");
      const { image, placements } = renderScene(scene, rand);
      items.push({
        split,
        images: new Map([[CANVAS, image]]),
        caption: formatCaption(scene),
        meta: { scene, objects: sceneObjects(scene).length, boxes: placements.map((p) => [p.x0, p.y0, p.extent]) },
      });
    }
  });
  return writeDataset({
    name: "shapes",
    outDir: options.outDir,
    sizes: [CANVAS],
    seed: options.seed,
    items,
    sources: [{ name: "shapes", package: "tessera", version: "1", license: "MIT", attribution: "procedurally drawn by Tessera", count: items.length }],
    splitRule: `train/val: seeded random scenes with no held-out colour–shape pair; test: scenes with at least one of ${HELD_OUT_PAIRS.join(", ")}.`,
    notes: {
      heldOutPairs: HELD_OUT_PAIRS,
      grammar: "object position | object relation object; object := a <small|large> <colour> <shape>; see lib/data/shapes/caption.ts",
    },
    log: options.log,
  });
}
