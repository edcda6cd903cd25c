import { describe, expect, it } from "vitest";
import type { CaptionRecord } from "../../lib/data/manifest";
import { imageAt, type Shard } from "../../lib/data/shard";
import { coreOnly } from "./eval-context";

// Five 1×1 RGB images whose pixels name them (image i is [i, i, i]); 1 and 3 are supplementary.
const shard: Shard = { count: 5, height: 1, width: 1, channels: 3, data: Uint8Array.from({ length: 15 }, (_, k) => Math.floor(k / 3)) };
const caps: CaptionRecord[] = [0, 1, 2, 3, 4].map((index) => ({
  split: "train",
  index,
  caption: `emoji ${index}`,
  meta: index % 2 ? { supplementary: true } : {},
}));

describe("coreOnly", () => {
  it("drops the supplementary pictures and re-indexes the rest, image and caption still paired", () => {
    const core = coreOnly(shard, caps);
    expect(core.shard.count).toBe(3);
    expect(core.caps.map((c) => c.caption)).toEqual(["emoji 0", "emoji 2", "emoji 4"]);
    core.caps.forEach((c, i) => {
      expect(c.index).toBe(i);
      expect(Array.from(imageAt(core.shard, c.index))).toEqual(Array(3).fill(Number(c.caption.split(" ")[1])));
    });
  });

  it("returns a split without supplementary pictures as it is", () => {
    const plain = caps.map((c) => ({ ...c, meta: {} }));
    const core = coreOnly(shard, plain);
    expect(core.shard).toBe(shard);
    expect(core.caps).toBe(plain);
  });
});
