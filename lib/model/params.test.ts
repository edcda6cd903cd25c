// Restoring a ParamStore: exact fits load, misfits are refused, and only names the caller marks fresh may be missing,
// differ or be left over (they keep their initial values).
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../tensor/backend";
import { ParamStore } from "./params";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
});

describe("ParamStore.load", () => {
  const store = () => {
    const s = new ParamStore(1);
    s.add("enc.w", tf.zeros([2]));
    s.add("disc.0.w", tf.fill([2], 7));
    return s;
  };

  it("refuses a checkpoint with missing names unless they may be missing, which keep their values", () => {
    const s = store();
    const values = new Map<string, tf.Tensor>([["enc.w", tf.ones([2])]]);
    expect(() => s.load(values, "export")).toThrow(/missing \[disc\.0\.w\]/);
    s.load(values, "export", (n) => n.startsWith("disc."));
    expect(Array.from(s.get("enc.w").dataSync())).toEqual([1, 1]);
    expect(Array.from(s.get("disc.0.w").dataSync())).toEqual([7, 7]);
    const disc = (n: string) => n.startsWith("disc.");
    expect(() => s.load(new Map([...values, ["other", tf.ones([1])]]), "export", disc)).toThrow(/unexpected \[other\]/);
    expect(() => s.load(new Map([...values, ["disc.0.w", tf.ones([3])]]), "export")).toThrow(/disc\.0\.w has shape \[3\]/);
    s.dispose();
  });

  it("keeps fresh names at their initial values whatever the checkpoint holds under them (another shape, or none)", () => {
    const s = store();
    const values = new Map<string, tf.Tensor>([
      ["enc.w", tf.ones([2])],
      ["disc.0.w", tf.ones([3])], // a narrower or wider part that this model trains anew
      ["disc.1.w", tf.ones([1])], // a part this model no longer has
    ]);
    s.load(values, "export", (n) => n.startsWith("disc."));
    expect(Array.from(s.get("enc.w").dataSync())).toEqual([1, 1]);
    expect(Array.from(s.get("disc.0.w").dataSync())).toEqual([7, 7]);
    s.dispose();
  });
});
