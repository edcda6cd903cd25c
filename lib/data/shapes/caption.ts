// The shapes benchmark's vocabulary and caption grammar. Captions are generated from scenes and parsed back into
// scenes, so a generated image can be graded against exactly what its prompt asked for.
//
//   caption  := object " " position                 one object
//             | object " " relation " " object      two objects (different colours)
//   object   := "a " size " " colour " " shape
//   size     := small | large
//   colour   := red | orange | yellow | green | cyan | blue | purple | black
//   shape    := circle | square | triangle | diamond | cross
//   position := at the top left | at the top right | at the bottom left | at the bottom right | in the center
//   relation := left of | right of | above | below

export const COLOURS = {
  red: [230, 25, 25],
  orange: [245, 130, 20],
  yellow: [235, 215, 30],
  green: [30, 160, 60],
  cyan: [30, 200, 210],
  blue: [30, 60, 220],
  purple: [145, 50, 190],
  black: [20, 20, 20],
} as const satisfies Record<string, readonly [number, number, number]>;
export type Colour = keyof typeof COLOURS;
export const COLOUR_NAMES = Object.keys(COLOURS) as Colour[];

export const SHAPES = ["circle", "square", "triangle", "diamond", "cross"] as const;
export type Shape = (typeof SHAPES)[number];
export const SIZES = ["small", "large"] as const;
export type Size = (typeof SIZES)[number];
export const POSITIONS = ["top left", "top right", "bottom left", "bottom right", "center"] as const;
export type Position = (typeof POSITIONS)[number];
export const RELATIONS = ["left of", "right of", "above", "below"] as const;
export type Relation = (typeof RELATIONS)[number];

export interface ShapeObject {
  size: Size;
  colour: Colour;
  shape: Shape;
}

export type Scene =
  | { kind: "one"; object: ShapeObject; position: Position }
  | { kind: "two"; a: ShapeObject; relation: Relation; b: ShapeObject };

export function sceneObjects(scene: Scene): ShapeObject[] {
  return scene.kind === "one" ? [scene.object] : [scene.a, scene.b];
}

export const objectText = (o: ShapeObject) => `a ${o.size} ${o.colour} ${o.shape}`;
export const positionText = (p: Position) => (p === "center" ? "in the center" : `at the ${p}`);

export function formatCaption(scene: Scene): string {
  return scene.kind === "one"
    ? `${objectText(scene.object)} ${positionText(scene.position)}`
    : `${objectText(scene.a)} ${scene.relation} ${objectText(scene.b)}`;
}

const alt = (xs: readonly string[]) => xs.map((x) => x.replace(/ /g, "\\s+")).join("|");
const OBJECT = `a\\s+(${alt(SIZES)})\\s+(${alt(COLOUR_NAMES)})\\s+(${alt(SHAPES)})`;
const ONE = new RegExp(`^${OBJECT}\\s+(?:at\\s+the\\s+(${alt(POSITIONS.slice(0, 4))})|in\\s+the\\s+(center))$`);
const TWO = new RegExp(`^${OBJECT}\\s+(${alt(RELATIONS)})\\s+${OBJECT}$`);

/** Parses a caption of the grammar above (case and extra spaces forgiven); anything else is an error. */
export function parseCaption(text: string): Scene {
  const t = text.trim().toLowerCase().replace(/\s+/g, " ");
  const obj = (size: string, colour: string, shape: string): ShapeObject => ({ size: size as Size, colour: colour as Colour, shape: shape as Shape });
  const one = ONE.exec(t);
  if (one) return { kind: "one", object: obj(one[1], one[2], one[3]), position: (one[4] ?? one[5]) as Position };
  const two = TWO.exec(t);
  if (two) {
    if (two[2] === two[6]) throw new Error(`"${text}": the two objects must have different colours`);
    return { kind: "two", a: obj(two[1], two[2], two[3]), relation: two[4] as Relation, b: obj(two[5], two[6], two[7]) };
  }
  throw new Error(`"${text}" is not a shapes caption; expected e.g. "a small red circle at the top left" or "a large blue square left of a small green cross"`);
}
