// Grades an image against a shapes caption, attribute by attribute: for each object its colour (is there a blob
// of that colour?), shape (which template fits the blob best), size (its extent), and the position or relation;
// plus the object count. Works on the renderer's exact images and on noisy generated ones alike.
import { COLOURS, COLOUR_NAMES, SHAPES, parseCaption, sceneObjects, type Colour, type Scene, type Shape } from "./caption";
import { CANVAS, EXTENT, shapeMask } from "./render";

export interface Check {
  attribute: "colour" | "shape" | "size" | "position" | "relation" | "count";
  /** Which object of the caption (0 or 1); absent for scene-level checks. */
  object?: number;
  expected: string;
  found: string;
  pass: boolean;
}

export interface Score {
  scene: Scene;
  checks: Check[];
  /** Every check passed. */
  pass: boolean;
}

export interface Blob {
  colour: Colour;
  pixels: number;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  cx: number;
  cy: number;
  /** 1 inside the blob, over its bounding box (row-major, (x1-x0+1) wide). */
  mask: Uint8Array;
}

/** Pixels further than this from every palette colour (and from white) belong to no object. */
const MAX_COLOUR_DISTANCE2 = 80 * 80;
/** Blobs smaller than this are noise, not objects (a small object covers ≥ 30 pixels). */
const MIN_BLOB_PIXELS = 6;
/** Extents above this count as "large" (small is 8 px, large 14 px). */
const SIZE_THRESHOLD = (EXTENT.small + EXTENT.large) / 2;
/** Objects whose centroid lies this close to the canvas centre on both axes are "in the center". */
const CENTRE_TOLERANCE = 4;

const PALETTE: [Colour | "background", readonly number[]][] = [["background", [255, 255, 255]], ...COLOUR_NAMES.map((c) => [c, COLOURS[c]] as [Colour, readonly number[]])];

/** Each pixel's nearest palette colour index (0 = background, -1 = none close enough). */
export function classifyPixels(image: Uint8Array): Int8Array {
  const labels = new Int8Array(CANVAS * CANVAS);
  for (let i = 0; i < CANVAS * CANVAS; i++) {
    let best = -1;
    let bestD = MAX_COLOUR_DISTANCE2;
    for (let k = 0; k < PALETTE.length; k++) {
      const c = PALETTE[k][1];
      const d = (image[i * 3] - c[0]) ** 2 + (image[i * 3 + 1] - c[1]) ** 2 + (image[i * 3 + 2] - c[2]) ** 2;
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    }
    labels[i] = best;
  }
  return labels;
}

/** The 8 neighbours of pixel p that lie on the canvas. */
function neighbours(p: number): number[] {
  const px = p % CANVAS;
  const py = (p - px) / CANVAS;
  const out: number[] = [];
  for (let dy = -1; dy <= 1; dy++)
    for (let dx = -1; dx <= 1; dx++) {
      const x = px + dx;
      const y = py + dy;
      if ((dx || dy) && x >= 0 && y >= 0 && x < CANVAS && y < CANVAS) out.push(y * CANVAS + x);
    }
  return out;
}

/** 8-connected components of equal labels, each as its pixel indices (every label, background and "none" too). */
function components(labels: Int8Array): number[][] {
  const seen = new Uint8Array(labels.length);
  const out: number[][] = [];
  for (let start = 0; start < labels.length; start++) {
    if (seen[start]) continue;
    const k = labels[start];
    const members: number[] = [];
    const stack = [start];
    seen[start] = 1;
    while (stack.length) {
      const p = stack.pop()!;
      members.push(p);
      for (const q of neighbours(p))
        if (!seen[q] && labels[q] === k) {
          seen[q] = 1;
          stack.push(q);
        }
    }
    out.push(members);
  }
  return out;
}

/**
 * Specks — components of fewer than MIN_BLOB_PIXELS pixels — join what surrounds them. A decoder's output has a
 * few off-colour pixels inside and along an object (a red triangle with orange or blended pixels on its edges, a
 * white pixel inside a square); a person sees the object whole, and so must the shape template. A coloured or
 * unclassified speck joins the object colour most common around it (the background only when it touches none); a
 * background speck (a hole) joins whatever surrounds it most. No object of the grammar is that small (a small one
 * covers ≥ 30 pixels), so no real object is ever absorbed. Smallest specks first, each voted on by the labels as
 * they stand after the ones before: the tip of a cross arm cut off by a line of specks is whole again by the time
 * it is looked at.
 */
function absorbSpecks(labels: Int8Array): Int8Array {
  const out = Int8Array.from(labels);
  const specks = components(labels)
    .filter((m) => m.length < MIN_BLOB_PIXELS)
    .sort((a, b) => a.length - b.length);
  for (const members of specks) {
    const own = out[members[0]];
    const inside = new Set(members);
    const votes = new Map<number, number>();
    for (const p of members)
      for (const q of neighbours(p)) {
        const k = out[q];
        if (inside.has(q) || (own !== 0 && k <= 0)) continue;
        votes.set(k, (votes.get(k) ?? 0) + 1);
      }
    let best = own === 0 ? 0 : votes.size ? own : 0;
    let most = 0;
    for (const [k, v] of votes) if (v > most) [best, most] = [k, v];
    for (const p of members) out[p] = best;
  }
  return out;
}

/** 8-connected components of every object colour, largest first, after specks are absorbed (absorbSpecks). */
export function findBlobs(image: Uint8Array): Blob[] {
  if (image.length !== CANVAS * CANVAS * 3) throw new Error(`expected a ${CANVAS}×${CANVAS}×3 image, got ${image.length} bytes`);
  const labels = absorbSpecks(classifyPixels(image));
  const blobs: Blob[] = [];
  for (const members of components(labels)) {
    const k = labels[members[0]];
    if (k <= 0 || members.length < MIN_BLOB_PIXELS) continue;
    const xs = members.map((p) => p % CANVAS);
    const ys = members.map((p) => Math.floor(p / CANVAS));
    const x0 = Math.min(...xs);
    const x1 = Math.max(...xs);
    const y0 = Math.min(...ys);
    const y1 = Math.max(...ys);
    const w = x1 - x0 + 1;
    const mask = new Uint8Array(w * (y1 - y0 + 1));
    for (let i = 0; i < members.length; i++) mask[(ys[i] - y0) * w + (xs[i] - x0)] = 1;
    blobs.push({
      colour: PALETTE[k][0] as Colour,
      pixels: members.length,
      x0,
      y0,
      x1,
      y1,
      // Pixel centres, so a blob spanning 0..7 is centred at 4.
      cx: xs.reduce((s, x) => s + x, 0) / members.length + 0.5,
      cy: ys.reduce((s, y) => s + y, 0) / members.length + 0.5,
      mask,
    });
  }
  return blobs.sort((a, b) => b.pixels - a.pixels);
}

/** The shape whose template, drawn over the blob's bounding box, overlaps the blob best (intersection over union). */
export function classifyShape(blob: Blob): { shape: Shape; iou: number } {
  const w = blob.x1 - blob.x0 + 1;
  const h = blob.y1 - blob.y0 + 1;
  let best: { shape: Shape; iou: number } = { shape: SHAPES[0], iou: -1 };
  for (const shape of SHAPES) {
    const t = shapeMask(shape, w, h);
    let inter = 0;
    let union = 0;
    for (let i = 0; i < t.length; i++) {
      inter += t[i] & blob.mask[i];
      union += t[i] | blob.mask[i];
    }
    const iou = union ? inter / union : 0;
    if (iou > best.iou) best = { shape, iou };
  }
  return best;
}

function positionOf(blob: Blob): string {
  const mid = CANVAS / 2;
  if (Math.abs(blob.cx - mid) <= CENTRE_TOLERANCE && Math.abs(blob.cy - mid) <= CENTRE_TOLERANCE) return "center";
  return `${blob.cy < mid ? "top" : "bottom"} ${blob.cx < mid ? "left" : "right"}`;
}

function relationHolds(relation: string, a: Blob, b: Blob): boolean {
  switch (relation) {
    case "left of":
      return a.cx < b.cx && a.x1 < b.x0 + 2;
    case "right of":
      return a.cx > b.cx && b.x1 < a.x0 + 2;
    case "above":
      return a.cy < b.cy && a.y1 < b.y0 + 2;
    default:
      return a.cy > b.cy && b.y1 < a.y0 + 2;
  }
}

/** Scores a 32×32×3 uint8 image against a caption of the shapes grammar (which it parses, or throws). */
export function scoreImage(image: Uint8Array, caption: string | Scene): Score {
  const scene = typeof caption === "string" ? parseCaption(caption) : caption;
  const blobs = findBlobs(image);
  const objects = sceneObjects(scene);
  const checks: Check[] = [];
  const found: (Blob | undefined)[] = objects.map((o) => blobs.find((b) => b.colour === o.colour));

  objects.forEach((o, i) => {
    const blob = found[i];
    checks.push({ attribute: "colour", object: i, expected: o.colour, found: blob ? blob.colour : "none", pass: !!blob });
    const shape = blob ? classifyShape(blob).shape : "none";
    checks.push({ attribute: "shape", object: i, expected: o.shape, found: shape, pass: shape === o.shape });
    const extent = blob ? Math.max(blob.x1 - blob.x0, blob.y1 - blob.y0) + 1 : 0;
    const size = blob ? (extent > SIZE_THRESHOLD ? "large" : "small") : "none";
    checks.push({ attribute: "size", object: i, expected: o.size, found: size, pass: size === o.size });
  });

  if (scene.kind === "one") {
    const where = found[0] ? positionOf(found[0]) : "none";
    checks.push({ attribute: "position", object: 0, expected: scene.position, found: where, pass: where === scene.position });
  } else {
    const [a, b] = found;
    const holds = !!a && !!b && relationHolds(scene.relation, a, b);
    checks.push({ attribute: "relation", expected: scene.relation, found: holds ? scene.relation : a && b ? "other" : "missing object", pass: holds });
  }
  checks.push({ attribute: "count", expected: String(objects.length), found: String(blobs.length), pass: blobs.length === objects.length });
  return { scene, checks, pass: checks.every((c) => c.pass) };
}
