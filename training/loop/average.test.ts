import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { readCheckpointManifest, saveCheckpoint } from "../../lib/model/checkpoint";
import { averageTensors, incompatibility } from "./average";

async function manifestOf(tensors: Record<string, number[][]>, config: object = { nLayer: 1 }, dataHash = "d") {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tessera-avg-")), "ck");
  const map = new Map(Object.entries(tensors).map(([k, v]) => [k, tf.tensor2d(v)] as const));
  await saveCheckpoint(dir, map, { kind: "transformer", config, dataHash });
  tf.dispose([...map.values()]);
  return readCheckpointManifest(dir);
}

describe("checkpoint averaging", () => {
  it("takes the element-wise mean of every tensor", async () => {
    // w [2, 2] (row-major), b [1, 2]
    const weights = (w: number[], b: number[]) =>
      new Map([
        ["w", tf.tensor2d(w, [2, 2])],
        ["b", tf.tensor2d(b, [1, 2])],
      ]);
    const a = weights([1, 2, 3, 4], [0, -6]);
    const b = weights([3, 2, 1, 0], [3, 0]);
    const c = weights([2, 5, 2, 2], [0, 0]);
    const before = tf.memory().numTensors;
    const mean = averageTensors([a, b, c]);
    expect(tf.memory().numTensors - before).toBe(2); // the two means, nothing left over
    expect(Array.from(mean.get("w")!.dataSync())).toEqual([2, 3, 2, 2]);
    expect(Array.from(mean.get("b")!.dataSync())).toEqual([1, -2]);
    expect(mean.get("w")!.shape).toEqual([2, 2]);
    tf.dispose([...a.values(), ...b.values(), ...c.values(), ...mean.values()]);
  });

  it("refuses checkpoints of another model, config, data or shape", async () => {
    const base = await manifestOf({ w: [[1, 2]] });
    expect(incompatibility(base, await manifestOf({ w: [[5, 6]] }))).toBeNull();
    expect(incompatibility(base, await manifestOf({ w: [[1, 2]] }, { nLayer: 2 }))).toMatch(/config/);
    expect(incompatibility(base, await manifestOf({ w: [[1, 2]] }, { nLayer: 1 }, "other"))).toMatch(/data/);
    expect(incompatibility(base, await manifestOf({ w: [[1], [2]] }))).toMatch(/tensors/);
    expect(incompatibility(base, await manifestOf({ v: [[1, 2]] }))).toMatch(/tensors/);
    expect(incompatibility(base, { ...base, kind: "vqvae" })).toMatch(/kind/);
  });
});
