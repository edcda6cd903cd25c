// A model folder's measured sampling defaults reach the server (and the Create form); a folder with none, or with
// values out of range, falls back to the app's settings.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SAMPLING_FALLBACK } from "./params";
import { samplingDefaultsFor } from "./sampling-defaults";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-sampling-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function folder(name: string, extra: object): string {
  const d = path.join(dir, name);
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, "manifest.json"), JSON.stringify({ format: "tessera-checkpoint", extra }));
  return d;
}

describe("sampling defaults", () => {
  it("reads extra.sampling, with a null top-k meaning no filter", () => {
    expect(samplingDefaultsFor(folder("measured", { sampling: { guidance: 1.25, temperature: 0.7, topK: null } }))).toEqual({
      guidance: 1.25,
      temperature: 0.7,
      topK: 0,
    });
  });

  it("falls back without a manifest, without extra.sampling, or with values out of range", () => {
    expect(samplingDefaultsFor(path.join(dir, "missing"))).toEqual(SAMPLING_FALLBACK);
    expect(samplingDefaultsFor(folder("none", {}))).toEqual(SAMPLING_FALLBACK);
    expect(samplingDefaultsFor(folder("bad", { sampling: { guidance: 50, temperature: 0.7, topK: 0 } }))).toEqual(SAMPLING_FALLBACK);
  });

  it("sees a rewritten manifest (eval:gpt --write-defaults on a running server)", () => {
    const d = folder("changing", { sampling: { guidance: 2, temperature: 1, topK: 0 } });
    expect(samplingDefaultsFor(d).guidance).toBe(2);
    const file = path.join(d, "manifest.json");
    fs.writeFileSync(file, JSON.stringify({ extra: { sampling: { guidance: 1, temperature: 0.5, topK: 32 } } }));
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(file, later, later);
    expect(samplingDefaultsFor(d)).toEqual({ guidance: 1, temperature: 0.5, topK: 32 });
  });
});
