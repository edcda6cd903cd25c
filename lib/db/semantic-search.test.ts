// Ranking by embedding (pure): hand-built unit vectors, each generation ranked by its closest image.
import { describe, expect, it } from "vitest";
import { nearestGenerations, type EmbeddedImage } from "./semantic-search";

const v = (...xs: number[]) => Float32Array.from(xs);
const img = (generationId: string, imageId: string, e: Float32Array): EmbeddedImage => ({ generationId, imageId, embedding: e });

describe("nearestGenerations", () => {
  const images = [
    img("a", "a0", v(1, 0, 0)),
    img("a", "a1", v(0, 1, 0)),
    img("b", "b0", v(0.6, 0.8, 0)),
    img("c", "c0", v(0, 0, 1)),
    img("d", "d0", v(-1, 0, 0)),
    img("x", "x0", v(1, 0)), // another CLIP's width: never compared
  ];

  it("ranks generations by their closest image, most similar first, at most topK", () => {
    const r = nearestGenerations(images, v(0, 1, 0), 3);
    expect(r.map((n) => [n.generationId, n.imageId])).toEqual([
      ["a", "a1"],
      ["b", "b0"],
      ["c", "c0"],
    ]);
    expect(r[0].similarity).toBeCloseTo(1, 6);
    expect(r[1].similarity).toBeCloseTo(0.8, 6);
    // A generation counts by its best image (a: 0 from a1, not −1 from a0); equal similarities go by id.
    expect(nearestGenerations(images, v(-1, 0, 0), 10).map((n) => n.generationId)).toEqual(["d", "a", "c", "b"]);
  });

  it("leaves out the generation asked about (more like this)", () => {
    const r = nearestGenerations(images, v(1, 0, 0), 10, "a");
    expect(r.map((n) => n.generationId)).toEqual(["b", "c", "d"]);
  });
});
