// The rule that picks the server's sampling defaults: accuracy decides only among settings whose pictures are
// seldom near-copies, and with none such the most varied wins.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { samplingDefaultsFor } from "../../lib/generate/sampling-defaults";
import { chooseDefaults, chooseOnServed, chooseSetting, defaultsFor, type SweepRow } from "./choose-defaults";
import type { Scores } from "./eval-sets";
import type { RerankRow } from "./rerank-eval";
import type { Variety } from "./variety";

const row = (name: string, accuracy: number, nearCopyShare: number, pairDistance = 20) => ({
  name,
  accuracy,
  variety: { pairDistance, nearCopyShare, distinctLabels: 2, prompts: 40 },
});
const name = (r: { name: string }) => r.name;

describe("the selection rule", () => {
  it("a more accurate setting of near-copies loses to a varied one", () => {
    const copies = row("T 0.3", 0.6, 0.4, 3);
    const varied = row("T 0.7", 0.5, 0.05);
    const wild = row("T 1", 0.3, 0);
    const c = chooseSetting([copies, varied, wild], 0.1, name);
    expect(c.chosen).toBe(varied);
    expect(c.qualified).toBe(true);
    expect(c.mostAccurate).toBe(copies);
    expect(c.reason).toMatch(/T 0\.7.*most accurate of the 2 of 3 settings.*T 0\.3.*passed over/);
  });

  it("within the threshold (inclusive) accuracy decides, not variety", () => {
    const c = chooseSetting([row("a", 0.3, 0), row("b", 0.5, 0.1), row("c", 0.7, 0.11)], 0.1, name);
    expect(c.chosen.name).toBe("b");
    expect(c.reason).toMatch(/^b .*the most accurate, c .*passed over/);
  });

  it("with none qualifying, the most varied: fewest near-copies, then the largest pair distance", () => {
    const rows = [row("accurate", 0.9, 0.5, 30), row("close", 0.4, 0.3, 5), row("apart", 0.2, 0.3, 7)];
    const c = chooseSetting(rows, 0.1, name);
    expect(c.chosen.name).toBe("apart");
    expect(c.qualified).toBe(false);
    expect(c.mostAccurate.name).toBe("accurate");
    expect(c.reason).toMatch(/no setting has near-copy share ≤ 10\.0 %/);
  });

  it("keeps sweep order on ties and refuses an empty sweep", () => {
    expect(chooseSetting([row("first", 0.5, 0), row("second", 0.5, 0)], 0.1, name).chosen.name).toBe("first");
    expect(() => chooseSetting([], 0.1, name)).toThrow(/no sampling settings/);
  });
});

const scores = (exact1: number, family1: number): Scores => ({ exact1, exact5: exact1, family1, family5: family1 });
const variety = (nearCopyShare: number, pairDistance: number, prompts = 8): Variety => ({
  pairDistance,
  nearCopyShare,
  distinctLabels: 2,
  prompts,
});
const sweepRow = (temperature: number, acc: number, heldout: Variety, train: Variety): SweepRow => ({
  guidance: 1.5,
  temperature,
  topK: null,
  heldout: scores(0, acc),
  train: scores(acc, 0),
  variety: { heldout, train },
});

describe("a sweep's defaults", () => {
  // T 0.3: the most accurate, but half its train prompts are near-copies (pooled 25 %); T 0.7 has 1 in 16.
  const cool = sweepRow(0.3, 0.6, variety(0, 30), variety(0.5, 4));
  const warm = sweepRow(0.7, 0.5, variety(0.125, 25), variety(0, 28));

  it("pools variety over the held-out and train sets and rates accuracy as train exact@1 with held-out family@1", () => {
    const c = chooseDefaults([cool, warm], 0.1);
    expect(c.chosen).toBe(warm);
    expect(c.mostAccurate).toBe(cool);
    expect(c.accuracy).toBeCloseTo(0.5, 10);
    expect(c.variety).toEqual({ pairDistance: 26.5, nearCopyShare: 0.0625, distinctLabels: 2, prompts: 16 });
    expect(chooseDefaults([cool, warm], 0.3).chosen).toBe(cool);
  });

  it("judged on the served pictures: the kept pictures' accuracy and variety decide, and the choice is the sweep's own row", () => {
    const served = (acc: number, v: Variety): RerankRow => ({
      off: scores(0, 0),
      on: scores(acc, acc),
      oracle: scores(1, 1),
      clipOff: 0,
      clipOn: 0,
      varietyOff: variety(1, 1),
      varietyOn: v,
    });
    // As sampled, cool's first four are near-copies (warm wins above); served, CLIP keeps cool's four apart and
    // cool is the more accurate.
    const reranks = [
      { heldout: served(0.7, variety(0, 25)), train: served(0.7, variety(0.0625, 24)) },
      { heldout: served(0.6, variety(0, 30)), train: served(0.6, variety(0, 30)) },
    ];
    const c = chooseOnServed([cool, warm], reranks, 0.1);
    expect(c.chosen).toBe(cool);
    expect(c.accuracy).toBeCloseTo(0.7, 10);
    expect(c.variety.nearCopyShare).toBeCloseTo(0.03125, 10);
    expect(c.reason).toMatch(/^served pictures: s 1\.5 T 0\.3 /);
    expect(c.served[0].train.exact1).toBe(0.7);
    expect(defaultsFor(c, { images: 4, maxNearCopies: 0.1, rerank: null, judgedOn: "served" }).measured.judgedOn).toBe("served");
    expect(() => chooseOnServed([cool, warm], reranks.slice(1), 0.1)).toThrow(/1 reranked settings for a sweep of 2/);
  });

  it("stores the setting with what was measured, which the server still reads", () => {
    const rr = (v: Variety): RerankRow => ({
      off: scores(0, 0),
      on: scores(0, 0),
      oracle: scores(0, 0),
      clipOff: 0,
      clipOn: 0,
      varietyOff: v,
      varietyOn: v,
    });
    const rerank = { candidates: 16, heldout: rr(variety(0.5, 3)), train: rr(variety(0, 20)) };
    const d = defaultsFor(chooseDefaults([cool, warm], 0.1), { images: 4, maxNearCopies: 0.1, rerank });
    expect(d).toMatchObject({ guidance: 1.5, temperature: 0.7, topK: null, measured: { images: 4, qualified: true, maxNearCopies: 0.1 } });
    expect(d.measured.reranked).toEqual({
      candidates: 16,
      variety: { pairDistance: 11.5, nearCopyShare: 0.25, distinctLabels: 2, prompts: 16 },
    });
    expect(d.measured.reason).toMatch(/^s 1\.5 T 0\.7 /);
    expect(defaultsFor(chooseDefaults([cool], 0.1), { images: 4, maxNearCopies: 0.1, rerank: null }).measured).not.toHaveProperty(
      "reranked",
    );

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-choose-"));
    try {
      fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ format: "tessera-checkpoint", extra: { sampling: d } }));
      expect(samplingDefaultsFor(dir)).toEqual({ guidance: 1.5, temperature: 0.7, topK: 0 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
