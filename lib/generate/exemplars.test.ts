import { describe, expect, it } from "vitest";
import { mulberry32 } from "../data/rng";
import { checkBank, mixedScores, nearestPictures, shrink, standardised, voteScores, type ExemplarBank } from "./exemplars";

/** A bank of 1×1 pictures (three levels each) or of the given side. */
function bank(pictures: number[][], side = 1): ExemplarBank {
  return checkBank({
    count: pictures.length,
    captions: pictures.map((_, i) => `caption ${i}`),
    side,
    pictures: Uint8Array.from(pictures.flat()),
  });
}

describe("checkBank", () => {
  it("refuses arrays that disagree with the counts", () => {
    const ok = bank([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(() => checkBank({ ...ok, count: 3 })).toThrow(/2 captions for 3 pictures/);
    expect(() => checkBank({ ...ok, pictures: new Uint8Array(5) })).toThrow(/picture bytes/);
    expect(() => checkBank({ ...ok, side: 0 })).toThrow(/side/);
  });
});

describe("shrink", () => {
  it("averages each block of every channel, rounded", () => {
    // 2×2×3 → 1×1×3: channel means of [0, 10, 20, 31], [1, 1, 1, 1], [255, 255, 255, 254].
    const levels = [0, 1, 255, 10, 1, 255, 20, 1, 255, 31, 1, 254];
    expect(Array.from(shrink(levels, 2, 1))).toEqual([15, 1, 255]);
    expect(Array.from(shrink(levels, 2, 2))).toEqual(levels);
    expect(() => shrink(levels, 2, 3)).toThrow(/multiple/);
    expect(() => shrink(levels.slice(1), 2, 1)).toThrow(/2×2×3/);
  });

  it("keeps each block apart (a 4×4 picture of four flat quadrants shrinks to them)", () => {
    const q = [
      [10, 20, 30],
      [40, 50, 60],
      [70, 80, 90],
      [100, 110, 120],
    ];
    const levels: number[] = [];
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) levels.push(...q[(y < 2 ? 0 : 2) + (x < 2 ? 0 : 1)]);
    expect(Array.from(shrink(levels, 4, 2))).toEqual(q.flat());
  });
});

describe("nearestPictures", () => {
  it("equals a brute-force search, ties to the earlier picture, at sides with and without coarse pruning", () => {
    const rand = mulberry32(7);
    for (const side of [2, 8, 16]) {
      const n = side * side * 3;
      // Smooth pictures (flat 4×4 blocks, a level or two of noise): the block means then carry nearly the whole
      // distance, so the coarse bounds are tight, and a bound that overstated it would skip the true nearest.
      const random = () => {
        const f = Math.min(4, side);
        const blocks = side / f; // blocks per row
        const coarse = Array.from({ length: blocks * blocks * 3 }, () => Math.floor(rand() * 200) + 20);
        return Array.from({ length: n }, (_, j) => {
          const [y, x, c] = [Math.floor(j / (side * 3)), Math.floor(j / 3) % side, j % 3];
          return coarse[(Math.floor(y / f) * blocks + Math.floor(x / f)) * 3 + c] + Math.floor(rand() * 3);
        });
      };
      const pics = Array.from({ length: 60 }, random);
      // Copies make exact ties; near-copies (a few levels off) make close calls the bounds must not skip.
      pics.push(
        pics[3],
        pics[40],
        pics[3].map((v) => Math.min(255, v + 1)),
      );
      const b = bank(pics, side);
      const queries = [...Array.from({ length: 4 }, random), pics[3], pics[40].map((v) => Math.max(0, v - 2)), pics[59]];
      for (const m of [1, 3]) {
        const got = nearestPictures(b, queries, m);
        queries.forEach((q, i) => {
          const d = pics.map((p, id) => ({ id, d: p.reduce((s, v, j) => s + (v - q[j]) ** 2, 0) }));
          const want = d
            .sort((x, y) => x.d - y.d || x.id - y.id)
            .slice(0, m)
            .map((x) => x.id);
          expect(got[i], `side ${side}, m ${m}, query ${i}`).toEqual(want);
        });
      }
    }
  });

  it("breaks ties by the earlier picture", () => {
    const b = bank([
      [5, 5, 5],
      [5, 5, 5],
      [9, 9, 9],
    ]);
    expect(nearestPictures(b, [[5, 5, 5]], 2)).toEqual([[0, 1]]);
    expect(nearestPictures(b, [[8, 8, 8]], 1)).toEqual([[2]]);
    expect(() => nearestPictures(b, [[8]], 1)).toThrow(/1 levels/);
  });
});

describe("voteScores", () => {
  it("is the mean cosine of the prompt with the captions of each candidate's neighbours", () => {
    const emb = [
      [1, 0],
      [0, 1],
      [-1, 0],
    ];
    const v = voteScores([1, 0], [[0], [0, 1], [2, 1]], (id) => emb[id]);
    expect(v[0]).toBeCloseTo(1);
    expect(v[1]).toBeCloseTo(0.5);
    expect(v[2]).toBeCloseTo(-0.5);
    expect(() => voteScores([1, 0], [[]], (id) => emb[id])).toThrow(/without neighbours/);
    expect(() => voteScores([1, 0, 0], [[0]], (id) => emb[id])).toThrow(/2 floats, prompt 3/);
  });
});

describe("mixedScores", () => {
  it("sums CLIP's z-scores and the weighted second opinion's", () => {
    const clip = [0.1, 0.2, 0.3];
    const other = [3, 2, 1];
    expect(Array.from(mixedScores(clip, other, 0))).toEqual(Array.from(standardised(clip)));
    const m = mixedScores(clip, other, 2);
    // z(clip) = [−1.22, 0, 1.22], z(other) = [1.22, 0, −1.22]: at weight 2 the second opinion wins.
    expect(m[0]).toBeCloseTo(Math.sqrt(1.5));
    expect(m[2]).toBeCloseTo(-Math.sqrt(1.5));
    expect(Array.from(standardised([4, 4]))).toEqual([0, 0]);
    expect(() => mixedScores([1], [1, 2], 1)).toThrow(/1 CLIP scores but 2/);
    expect(() => mixedScores([1], [1], -1)).toThrow(/≥ 0/);
  });
});
