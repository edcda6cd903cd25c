// Caption variants for the shapes benchmark (issue 29 part 4: bind colour to shape). The held-out colour–shape pairs
// ("yellow circle") never appear in train, so the model must learn a colour word and a shape word as separate
// factors bound to one object, not as a bigram it has memorised. Two variants beside the grammar's caption help it:
//   1. both orders: a two-object scene named from its other object, with the inverse relation ("a Y right of a
//      X" for "a X left of a Y"), so each object description is read in both slots;
//   2. an attribute list per object, shape first ("circle: small, red; top left"), so the colour word reaches its
//      shape through the object's grouping rather than by standing right before it.
// The eval and the server still speak the grammar (lib/data/shapes/caption.ts); variants are read in training only.
import { formatCaption, objectText, type Relation, type Scene, type ShapeObject } from "../../lib/data/shapes/caption";

const INVERSE: Record<Relation, Relation> = { "left of": "right of", "right of": "left of", above: "below", below: "above" };

const attributeList = (o: ShapeObject) => `${o.shape}: ${o.size}, ${o.colour}`;

/** The same scene named with its two objects swapped (the relation inverted); a one-object scene is its own. */
export function swappedCaption(scene: Scene): string {
  return scene.kind === "one" ? formatCaption(scene) : `${objectText(scene.b)} ${INVERSE[scene.relation]} ${objectText(scene.a)}`;
}

/** The scene as attribute lists, shape first: "circle: small, red; top left" or "circle: small, red; left of; cross: large, blue". */
export function attributeCaption(scene: Scene): string {
  return scene.kind === "one"
    ? `${attributeList(scene.object)}; ${scene.position}`
    : `${attributeList(scene.a)}; ${scene.relation}; ${attributeList(scene.b)}`;
}

/** [grammar caption, both orders, attribute lists]: the shapes counterpart of captionVariants' three slots. */
export function shapesCaptionVariants(scene: Scene): string[] {
  return [formatCaption(scene), swappedCaption(scene), attributeCaption(scene)];
}
