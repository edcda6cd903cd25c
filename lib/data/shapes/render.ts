// Draws shapes scenes on a 32×32 white canvas with flat colours and no anti-aliasing, so every pixel's colour
// says which object it belongs to, and the scorer can segment renderer images exactly.
import { pick, randInt } from "../rng";
import {
  COLOURS,
  COLOUR_NAMES,
  POSITIONS,
  RELATIONS,
  SHAPES,
  SIZES,
  sceneObjects,
  type Colour,
  type Position,
  type Scene,
  type Shape,
  type ShapeObject,
} from "./caption";

export const CANVAS = 32;
/** Side of an object's bounding box in pixels. */
export const EXTENT = { small: 8, large: 14 } as const;

/**
 * 1 where a shape covers a pixel of a w×h box (tested at pixel centres). Shared by the renderer and the scorer's
 * templates, so the two can never disagree on what a "triangle" is.
 */
export function shapeMask(shape: Shape, w: number, h: number): Uint8Array {
  const mask = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const u = (x + 0.5) / w - 0.5;
      const v = (y + 0.5) / h - 0.5;
      let inside: boolean;
      switch (shape) {
        case "square":
          inside = true;
          break;
        case "circle":
          inside = u * u + v * v <= 0.25;
          break;
        case "triangle": // apex at the top centre, base along the bottom edge
          inside = Math.abs(u) <= 0.5 * (v + 0.5);
          break;
        case "diamond":
          inside = Math.abs(u) + Math.abs(v) <= 0.5;
          break;
        case "cross": // arms a third of the box wide
          inside = Math.abs(u) <= 1 / 6 || Math.abs(v) <= 1 / 6;
          break;
      }
      mask[y * w + x] = inside ? 1 : 0;
    }
  }
  return mask;
}

export interface Placement {
  object: ShapeObject;
  /** Top-left corner of the bounding box. */
  x0: number;
  y0: number;
  extent: number;
}

export function blankCanvas(): Uint8Array {
  return new Uint8Array(CANVAS * CANVAS * 3).fill(255);
}

export function drawObject(image: Uint8Array, p: Placement): void {
  const mask = shapeMask(p.object.shape, p.extent, p.extent);
  const [r, g, b] = COLOURS[p.object.colour];
  for (let y = 0; y < p.extent; y++) {
    for (let x = 0; x < p.extent; x++) {
      if (!mask[y * p.extent + x]) continue;
      const px = p.x0 + x;
      const py = p.y0 + y;
      if (px < 0 || py < 0 || px >= CANVAS || py >= CANVAS) continue;
      const o = (py * CANVAS + px) * 3;
      image[o] = r;
      image[o + 1] = g;
      image[o + 2] = b;
    }
  }
}

const QUADRANT_CENTRE: Record<Exclude<Position, "center">, [number, number]> = {
  "top left": [8, 8],
  "top right": [24, 8],
  "bottom left": [8, 24],
  "bottom right": [24, 24],
};

/** A box of `extent` centred near (cx, cy), jittered by up to `jitter` pixels and kept on the canvas. */
function place(object: ShapeObject, cx: number, cy: number, jitter: number, rand: () => number): Placement {
  const extent = EXTENT[object.size];
  const clamp = (v: number) => Math.max(1, Math.min(CANVAS - 1 - extent, v));
  return {
    object,
    extent,
    x0: clamp(Math.round(cx - extent / 2) + randInt(-jitter, jitter, rand)),
    y0: clamp(Math.round(cy - extent / 2) + randInt(-jitter, jitter, rand)),
  };
}

/** Lays out a scene: one object in its named region; two objects in opposite halves as the relation says. */
export function layoutScene(scene: Scene, rand: () => number): Placement[] {
  if (scene.kind === "one") {
    const small = scene.object.size === "small";
    if (scene.position === "center") return [place(scene.object, 16, 16, small ? 2 : 1, rand)];
    const [cx, cy] = QUADRANT_CENTRE[scene.position];
    return [place(scene.object, cx, cy, small ? 2 : 0, rand)];
  }
  // "a R b": a goes to the half the relation names, b to the other; the free coordinate is random.
  const free = (o: ShapeObject) => randInt(EXTENT[o.size] / 2 + 1, CANVAS - 1 - EXTENT[o.size] / 2, rand);
  const aFirst = scene.relation === "left of" || scene.relation === "above";
  const [ca, cb] = aFirst ? [8, 24] : [24, 8];
  const horizontal = scene.relation === "left of" || scene.relation === "right of";
  const at = (o: ShapeObject, main: number) => (horizontal ? place(o, main, free(o), 0, rand) : place(o, free(o), main, 0, rand));
  return [at(scene.a, ca), at(scene.b, cb)];
}

export function renderScene(scene: Scene, rand: () => number): { image: Uint8Array; placements: Placement[] } {
  const image = blankCanvas();
  const placements = layoutScene(scene, rand);
  for (const p of placements) drawObject(image, p);
  return { image, placements };
}

export type ColourShapePair = `${Colour} ${Shape}`;

/**
 * Colour–shape pairs that never appear in train or val: the test split is made only of scenes that contain one,
 * so it measures whether the model composes a colour with a shape it has seen only in other colours.
 */
export const HELD_OUT_PAIRS: readonly ColourShapePair[] = [
  "red triangle",
  "orange cross",
  "yellow circle",
  "green diamond",
  "cyan square",
  "blue cross",
  "purple circle",
  "black triangle",
];

export const isHeldOut = (o: ShapeObject) => HELD_OUT_PAIRS.includes(`${o.colour} ${o.shape}`);

function sampleObject(rand: () => number, notColour?: Colour): ShapeObject {
  const colours = notColour ? COLOUR_NAMES.filter((c) => c !== notColour) : COLOUR_NAMES;
  return { size: pick(SIZES, rand), colour: pick(colours, rand), shape: pick(SHAPES, rand) };
}

/**
 * A random scene (half one-object, half two-object). `heldOut: "exclude"` redraws until no held-out pair is in it
 * (train, val); `"require"` until at least one is (test).
 */
export function sampleScene(rand: () => number, heldOut: "exclude" | "require"): Scene {
  for (;;) {
    let scene: Scene;
    if (rand() < 0.5) {
      scene = { kind: "one", object: sampleObject(rand), position: pick(POSITIONS, rand) };
    } else {
      const a = sampleObject(rand);
      scene = { kind: "two", a, relation: pick(RELATIONS, rand), b: sampleObject(rand, a.colour) };
    }
    const has = sceneObjects(scene).some(isHeldOut);
    if (has === (heldOut === "require")) return scene;
  }
}
