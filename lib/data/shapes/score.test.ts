import { describe, expect, it } from "vitest";
import { mulberry32 } from "../rng";
import { formatCaption, parseCaption, sceneObjects, type Scene } from "./caption";
import { blankCanvas, drawObject, isHeldOut, renderScene, sampleScene } from "./render";
import { findBlobs, scoreImage } from "./score";

const render = (scene: Scene, seed = 1) => renderScene(scene, mulberry32(seed)).image;
const failing = (image: Uint8Array, caption: string) =>
  scoreImage(image, caption)
    .checks.filter((c) => !c.pass)
    .map((c) => c.attribute);

describe("caption grammar", () => {
  it("round-trips every sampled scene through format and parse", () => {
    const rand = mulberry32(3);
    for (let i = 0; i < 500; i++) {
      const scene = sampleScene(rand, i % 2 ? "exclude" : "require");
      expect(parseCaption(formatCaption(scene))).toEqual(scene);
    }
  });
  it("forgives case and spacing but nothing else", () => {
    expect(parseCaption("  A Small RED circle   in the center ")).toEqual({ kind: "one", object: { size: "small", colour: "red", shape: "circle" }, position: "center" });
    expect(() => parseCaption("a small pink circle in the center")).toThrow(/is not a shapes caption/);
    expect(() => parseCaption("a small red circle left of a large red square")).toThrow(/different colours/);
  });
});

describe("held-out compositions", () => {
  it("keeps them out of train scenes and in every test scene", () => {
    const rand = mulberry32(4);
    for (let i = 0; i < 300; i++) {
      expect(sceneObjects(sampleScene(rand, "exclude")).some(isHeldOut)).toBe(false);
      expect(sceneObjects(sampleScene(rand, "require")).some(isHeldOut)).toBe(true);
    }
  });
});

describe("scorer", () => {
  it("passes at least 99% of the renderer's own images", () => {
    const rand = mulberry32(11);
    const n = 2000;
    let pass = 0;
    for (let i = 0; i < n; i++) {
      const scene = sampleScene(rand, i % 3 ? "exclude" : "require");
      if (scoreImage(renderScene(scene, rand).image, formatCaption(scene)).pass) pass++;
    }
    expect(pass / n).toBeGreaterThanOrEqual(0.99);
  });

  it("fails an image whose colour is wrong", () => {
    const image = render(parseCaption("a large red circle at the top left"));
    expect(failing(image, "a large blue circle at the top left")).toContain("colour");
  });

  it("fails an image whose shape is wrong, for every pair of shapes", () => {
    const shapes = ["circle", "square", "triangle", "diamond", "cross"];
    for (const size of ["small", "large"]) {
      for (const drawn of shapes) {
        const image = render(parseCaption(`a ${size} green ${drawn} in the center`));
        for (const asked of shapes.filter((s) => s !== drawn)) {
          expect(failing(image, `a ${size} green ${asked} in the center`), `${size} ${drawn} scored as ${asked}`).toEqual(["shape"]);
        }
      }
    }
  });

  it("fails an image whose position, size or relation is wrong", () => {
    const one = render(parseCaption("a small purple square at the bottom right"));
    expect(failing(one, "a small purple square at the top left")).toEqual(["position"]);
    expect(failing(one, "a small purple square in the center")).toEqual(["position"]);
    expect(failing(one, "a large purple square at the bottom right")).toEqual(["size"]);
    // Side by side at the same height: "left of" holds, "right of", "above" and "below" do not.
    const two = blankCanvas();
    drawObject(two, { object: { size: "large", colour: "yellow", shape: "cross" }, x0: 1, y0: 9, extent: 14 });
    drawObject(two, { object: { size: "small", colour: "black", shape: "diamond" }, x0: 20, y0: 12, extent: 8 });
    expect(failing(two, "a large yellow cross left of a small black diamond")).toEqual([]);
    for (const wrong of ["right of", "above", "below"]) {
      expect(failing(two, `a large yellow cross ${wrong} a small black diamond`)).toEqual(["relation"]);
    }
  });

  it("fails an image with an extra or a missing object", () => {
    const image = render(parseCaption("a large red circle left of a large blue square"));
    expect(failing(image, "a large red circle at the top left")).toContain("count");
    const empty = blankCanvas();
    expect(failing(empty, "a large red circle at the top left")).toEqual(expect.arrayContaining(["colour", "shape", "count"]));
  });

  it("tolerates mild noise such as a generated image has", () => {
    const image = blankCanvas();
    drawObject(image, { object: { size: "large", colour: "orange", shape: "triangle" }, x0: 2, y0: 2, extent: 14 });
    const rand = mulberry32(5);
    for (let i = 0; i < image.length; i++) image[i] = Math.max(0, Math.min(255, image[i] + Math.round((rand() - 0.5) * 40)));
    expect(scoreImage(image, "a large orange triangle at the top left").pass).toBe(true);
  });

  it("sees an object whole through off-colour specks on its edges and holes inside, as a decoder draws them", () => {
    for (const [shape, colour, speck] of [
      ["triangle", "red", [245, 130, 20]],
      ["cross", "orange", [235, 215, 30]],
      ["diamond", "green", [160, 160, 160]],
    ] as const) {
      const image = blankCanvas();
      drawObject(image, { object: { size: "small", colour, shape }, x0: 12, y0: 12, extent: 8 });
      const isObject = (p: number) => image[p * 3] !== 255 || image[p * 3 + 1] !== 255 || image[p * 3 + 2] !== 255;
      const edge: number[] = [];
      for (let p = 0; p < 32 * 32; p++)
        if (isObject(p) && [p - 1, p + 1, p - 32, p + 32].some((q) => q >= 0 && q < 32 * 32 && !isObject(q))) edge.push(p);
      // Every third edge pixel takes a neighbouring palette colour (or a grey no colour is near), one inside goes white.
      const painted = Uint8Array.from(image);
      edge.filter((_, i) => i % 3 === 0).forEach((p) => painted.set(speck, p * 3));
      const centre = 16 * 32 + 16;
      painted.set([255, 255, 255], centre * 3);
      const caption = `a small ${colour} ${shape} in the center`;
      expect(scoreImage(painted, caption).pass, caption).toBe(true);
      // A speck is never an object of its own: no extra blob is counted.
      expect(findBlobs(painted)).toHaveLength(1);
    }
  });

  it("rejects an image of the wrong size", () => {
    expect(() => scoreImage(new Uint8Array(10), "a large red circle at the top left")).toThrow(/32×32×3/);
  });
});
