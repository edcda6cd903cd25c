// The curve reader and the SVG: the right points from a log, a line per series, bad input refused.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { curvesSvg, readSeries, tickLabel } from "./curves";

describe("learning curves", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-plot-"));
  const log = path.join(dir, "log.jsonl");
  fs.writeFileSync(
    log,
    [
      { step: 10, items: 640, loss: 2, elapsedSeconds: 30 },
      { step: 20, items: 1280, loss: 1.5, elapsedSeconds: 60 },
      { step: 20, items: 1280, valPsnr: 18 },
    ]
      .map((r) => JSON.stringify(r))
      .join("\n") + "\n",
  );

  it("reads the rows that carry the key, against items or steps", () => {
    expect(readSeries(log, "loss", "items")).toEqual([
      [640, 2],
      [1280, 1.5],
    ]);
    expect(readSeries(log, "valPsnr", "step")).toEqual([[20, 18]]);
    // A validation row sits at the wall-clock of the training row logged before it.
    expect(readSeries(log, "valPsnr", "minutes")).toEqual([[1, 18]]);
  });

  it("draws one path per series with its name in the legend, and refuses logs with nothing to draw", () => {
    const svg = curvesSvg(
      [
        { name: "a<b", points: readSeries(log, "loss", "items") },
        { name: "b", points: [[640, 1]] },
      ],
      "items",
      "loss",
      true,
    );
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toContain("a&lt;b");
    expect(() => curvesSvg([{ name: "x", points: [] }], "items", "loss", false)).toThrow(/no rows carry loss/);
    fs.writeFileSync(path.join(dir, "bad.jsonl"), "{oops\n");
    expect(() => readSeries(path.join(dir, "bad.jsonl"), "loss", "items")).toThrow(/bad.jsonl:1: not JSON/);
  });

  it("labels ticks with the decimals that tell neighbours apart", () => {
    // A PSNR axis 21–23 dB in steps of 0.4: "21.0, 21.4, …", not "21, 21, 22".
    expect([21, 21.4, 21.8, 22.2].map((v) => tickLabel(v, 0.4))).toEqual(["21.0", "21.4", "21.8", "22.2"]);
    expect(tickLabel(1280, 128)).toBe("1280");
    expect(tickLabel(12000, 2000)).toBe("12k");
    expect(tickLabel(12500, 500)).toBe("12500");
    expect(tickLabel(0.0042, 0.001)).toBe("0.004");
    expect(tickLabel(0.00005, 0.00001)).toBe("0.0000500");
  });
});
