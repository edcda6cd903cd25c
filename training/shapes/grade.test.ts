import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../lib/data/rng";
import { parseCaption } from "../../lib/data/shapes/caption";
import { renderScene } from "../../lib/data/shapes/render";
import { scoreImage } from "../../lib/data/shapes/score";
import { gradeReport, gradeTable } from "./grade";

const drawn = (caption: string) => renderScene(parseCaption(caption), mulberry32(2)).image;

describe("gradeReport", () => {
  it("counts checks per attribute, all-correct per scene kind, and each held-out pair's object", () => {
    const scores = [
      // right
      scoreImage(drawn("a large red triangle at the top left"), "a large red triangle at the top left"),
      // a blue triangle where a red one was asked: colour (and so shape, size, position) of object 0 fail
      scoreImage(drawn("a large blue triangle at the top left"), "a large red triangle at the top left"),
      // two objects, right; the held-out pair is the second object
      scoreImage(drawn("a small green circle left of a large red triangle"), "a small green circle left of a large red triangle"),
      // two objects with the relation reversed: every object attribute right, the relation wrong
      scoreImage(drawn("a small green circle right of a large red triangle"), "a small green circle left of a large red triangle"),
    ];
    const r = gradeReport(scores, ["red triangle", "blue cross"]);
    expect(r.images).toBe(4);
    expect(r.allCorrect).toEqual({ n: 4, rate: 0.5 });
    expect(r.byObjects.one).toEqual({ n: 2, rate: 0.5 });
    expect(r.byObjects.two).toEqual({ n: 2, rate: 0.5 });
    // colour: 1 + 0 + 2 + 2 of 6 objects
    expect(r.byAttribute.colour).toEqual({ n: 6, rate: 5 / 6 });
    expect(r.byAttribute.relation).toEqual({ n: 2, rate: 0.5 });
    expect(r.byAttribute.position).toEqual({ n: 2, rate: 0.5 });
    expect(r.byAttribute.count.n).toBe(4);
    // the red triangle: right in 3 of 4 images (the relation error does not touch it), all-correct in 2 of 4
    expect(r.byHeldOutPair["red triangle"]).toEqual({ allCorrect: { n: 4, rate: 0.5 }, pairCorrect: { n: 4, rate: 0.75 } });
    expect(r.byHeldOutPair["blue cross"]).toEqual({ allCorrect: { n: 0, rate: null }, pairCorrect: { n: 0, rate: null } });
  });

  it("tabulates a row per set", () => {
    const r = gradeReport([scoreImage(drawn("a small cyan cross in the center"), "a small cyan cross in the center")]);
    const table = gradeTable([{ name: "held-out", report: r }]);
    expect(table.split("\n")).toHaveLength(3);
    expect(table).toContain("| held-out | 1 | 100.0 % | 100.0 % | 100.0 % | 100.0 % | — | 100.0 % | 100.0 % | 100.0 % | — |");
  });
});
