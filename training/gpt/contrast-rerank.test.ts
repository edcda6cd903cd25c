import { describe, expect, it } from "vitest";
import type { CaptionRecord } from "../../lib/data/manifest";
import { captionCosines, competitorsFrom, contrastScores, nearestCaptions, type CaptionBank } from "./contrast-rerank";

const unit = (v: number[]) => {
  const n = Math.hypot(...v);
  return Float32Array.from(v, (x) => x / n);
};

function bankOf(entries: [string, number[]][]): CaptionBank {
  const dim = entries[0][1].length;
  const embeddings = new Float32Array(entries.length * dim);
  entries.forEach(([, v], i) => embeddings.set(unit(v), i * dim));
  return { captions: entries.map(([c]) => c), dim, embeddings, row: new Map(entries.map(([c], i) => [c, i])) };
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

describe("contrastScores", () => {
  const prompt = unit([1, 0, 0]);
  const bank = bankOf([
    ["sibling", [0, 1, 0]],
    ["other", [0, 0, 1]],
  ]);
  // Candidate 0 is between the prompt and its sibling (a generic picture): the higher cosine with the prompt.
  // Candidate 1 is nearer the prompt than the sibling by more, at a lower cosine with the prompt.
  const images = [unit([1, 0.5, 0]), unit([0.85, 0, 0.53])];
  const cosines = images.map((img) => dot(img, prompt));

  it("is the log-probability of the prompt among the competitors at weight 1", () => {
    const scale = 10;
    const s = contrastScores(cosines, images, bank, ["sibling", "other"], scale, 1);
    images.forEach((img, i) => {
      const logits = [dot(img, prompt), dot(img, bank.embeddings.subarray(0, 3)), dot(img, bank.embeddings.subarray(3, 6))].map(
        (x) => scale * x,
      );
      const z = Math.log(logits.reduce((a, l) => a + Math.exp(l), 0));
      expect(s[i]).toBeCloseTo(logits[0] - z, 4);
    });
  });

  it("ranks a picture that fits the prompt's sibling as well below one that fits the prompt only", () => {
    expect(cosines[0]).toBeGreaterThan(cosines[1]); // the server's cosine prefers the generic picture
    const s = contrastScores(cosines, images, bank, ["sibling"], 10, 1);
    expect(s[1]).toBeGreaterThan(s[0]);
  });

  it("is the scaled cosine at weight 0, and refuses a competitor missing from the bank", () => {
    const s = contrastScores(cosines, images, bank, ["sibling"], 10, 0);
    expect(Array.from(s)).toEqual(cosines.map((c) => Math.fround(10 * c)));
    expect(() => contrastScores(cosines, images, bank, ["nowhere"], 10, 1)).toThrow(/not in the caption bank/);
  });
});

describe("captionCosines", () => {
  it("scores each image against one caption of the bank, and refuses a caption it lacks", () => {
    const bank = bankOf([
      ["a", [1, 0, 0]],
      ["b", [0, 1, 1]],
    ]);
    const images = [unit([1, 1, 0]), unit([0, 0, 1])];
    const got = captionCosines(bank, "b", images);
    images.forEach((img, i) => expect(got[i]).toBeCloseTo(dot(img, unit([0, 1, 1])), 6));
    expect(() => captionCosines(bank, "c", images)).toThrow(/not in the caption bank/);
  });
});

describe("competitorsFrom", () => {
  const rec = (label: string, style: string, caption = `${label}, ${style}`): CaptionRecord =>
    ({ caption, meta: { label, style } }) as unknown as CaptionRecord;
  const train = [
    rec("thumbs up: light skin tone", "twemoji"),
    rec("thumbs up: dark skin tone", "twemoji"),
    rec("thumbs up: dark skin tone", "twemoji", "a dark thumbs up, twemoji"),
    rec("thumbs up: dark skin tone", "openmoji"),
    rec("rocket", "twemoji"),
  ];

  it("near: the prompt's near labels in its own style, one caption a pair, never its own pair", () => {
    const c = competitorsFrom(train, []);
    expect(c.near(train[0])).toEqual(["thumbs up: dark skin tone, twemoji"]);
    expect(c.near(rec("thumbs up: light skin tone", "openmoji"))).toEqual(["thumbs up: dark skin tone, openmoji"]);
    expect(c.near(train[4])).toEqual([]);
  });

  it("all: every other trained pair once", () => {
    const c = competitorsFrom(train, []);
    expect(c.all(train[4]).sort()).toEqual(
      ["thumbs up: dark skin tone, openmoji", "thumbs up: dark skin tone, twemoji", "thumbs up: light skin tone, twemoji"].sort(),
    );
    expect(c.captions).toHaveLength(4);
  });
});

describe("nearestCaptions", () => {
  const bank = bankOf([
    ["prompt", [1, 0, 0]],
    ["close", [1, 0.2, 0]],
    ["closer", [1, 0.1, 0]],
    ["far", [0, 0, 1]],
  ]);

  it("gives the k pool captions nearest the prompt's embedding, nearest first, never the prompt itself", () => {
    expect(nearestCaptions(bank, "prompt", ["far", "close", "prompt", "closer"], 2)).toEqual(["closer", "close"]);
    expect(nearestCaptions(bank, "prompt", ["far", "prompt"], 5)).toEqual(["far"]);
    expect(() => nearestCaptions(bank, "unknown", ["far"], 1)).toThrow(/not in the caption bank/);
  });
});
