// Hard negatives for CLIP on the shapes benchmark (issue 29 part 4: bind colour to shape). Reranking a held-out
// caption ("a small yellow circle …") means telling a yellow circle from the yellow diamond and the orange circle the
// transformer also drew; a batch of random scenes rarely holds the captions that differ from an image's own by one
// word, so CLIP can score "yellow" and "circle" as a bag of words and still win its batch. Each training scene gets
// captions of scenes that differ from it in exactly one attribute of one object — its colour or its shape — which
// the loss reads as extra wrong texts for that image (lib/model/clip-loss.ts, symmetricInfoNCE's extra columns).
// Held-out colour–shape pairs are never produced: they stay out of training in every form, negatives included.
import { COLOUR_NAMES, formatCaption, sceneObjects, SHAPES, type Scene, type ShapeObject } from "../../lib/data/shapes/caption";
import { isHeldOut } from "../../lib/data/shapes/render";

/** Every scene one attribute away from `scene`: one object's colour or shape changed (no held-out pair, two-object scenes keep different colours). */
export function oneAttributeAway(scene: Scene): Scene[] {
  const out: Scene[] = [];
  const variantsOf = (o: ShapeObject, otherColour?: string): ShapeObject[] => [
    ...COLOUR_NAMES.filter((c) => c !== o.colour && c !== otherColour).map((colour) => ({ ...o, colour })),
    ...SHAPES.filter((s) => s !== o.shape).map((shape) => ({ ...o, shape })),
  ];
  if (scene.kind === "one") {
    for (const object of variantsOf(scene.object)) if (!isHeldOut(object)) out.push({ ...scene, object });
  } else {
    for (const a of variantsOf(scene.a, scene.b.colour)) if (!isHeldOut(a)) out.push({ ...scene, a });
    for (const b of variantsOf(scene.b, scene.a.colour)) if (!isHeldOut(b)) out.push({ ...scene, b });
  }
  return out;
}

/**
 * `count` captions of scenes one attribute away from `scene`, drawn with `rand` (with replacement, half of them a
 * colour change and half a shape change where both exist, so neither word can be ignored).
 */
export function hardNegativeCaptions(scene: Scene, rand: () => number, count: number): string[] {
  const near = oneAttributeAway(scene);
  if (near.length === 0) throw new Error(`no scene is one attribute away from "${formatCaption(scene)}"`);
  const own = sceneObjects(scene);
  const colourChanged = near.filter((s) => sceneObjects(s).some((o, i) => o.colour !== own[i].colour));
  const shapeChanged = near.filter((s) => sceneObjects(s).some((o, i) => o.shape !== own[i].shape));
  return Array.from({ length: count }, (_, k) => {
    const wanted = k % 2 === 0 ? colourChanged : shapeChanged;
    const pool = wanted.length ? wanted : near;
    return formatCaption(pool[Math.floor(rand() * pool.length)]);
  });
}
