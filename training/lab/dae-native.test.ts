// The denoising autoencoder's task on the native engine: one ONNX Runtime step equals the task's tfjs step (loss,
// noisyMse, every gradient), fed the corruption the tfjs loss draws for that step; fed another step's corruption it
// does not; and the loop picks ORT by default for the DAE. (Learning to denoise on the loop: ./dae-task.test.ts.)
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import type { Shard } from "../../lib/data/shard";
import { DEFAULT_DAE_CONFIG } from "../../lib/model/dae-config";
import { DEFAULT_CORRUPTION } from "../../lib/model/dae-corruption";
import { selectBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { maxRelativeError } from "../../test/fixtures/relative-error";
import { resolveEngine } from "../loop/engine";
import { NativeEngine } from "../loop/native-engine";
import { shared } from "../loop/task";
import { paramLayout } from "../optim/flat-adamw";
import { createTask, type DAETaskOptions } from "./dae-task";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
});

/** Flat-coloured squares on white, 16×16. */
function shard(count: number): Shard {
  const data = new Uint8Array(count * 16 * 16 * 3).fill(255);
  for (let i = 0; i < count; i++)
    for (let y = 4; y < 12; y++)
      for (let x = 2 + (i % 6); x < 10 + (i % 6); x++) data.set([30, (i * 60) % 256, 200], ((i * 16 + y) * 16 + x) * 3);
  return { count, height: 16, width: 16, channels: 3, data: shared(data) };
}

describe("the DAE task on the native engine", () => {
  it("one ORT step equals the task's tfjs step; another step's corruption does not; ORT is the default", async () => {
    const o: DAETaskOptions = {
      config: { ...DEFAULT_DAE_CONFIG, imageSize: 16, widths: [8, 16], resBlocks: 1 },
      corruption: { ...DEFAULT_CORRUPTION },
      seed: 1,
      train: shard(16),
      val: shard(4),
    };
    const task = await createTask(o, "main");
    expect(resolveEngine("auto", task)).toBe("ort");
    const layout = paramLayout(task.params.trainable());
    const engine = await NativeEngine.start(task, layout, 1, 8);
    try {
      const batch = task.plan(
        Int32Array.from({ length: 8 }, (_, i) => i),
        5,
      );
      const ctx = { step: 5, progress: 0.1, lr: 1e-3 };
      const vars = [...task.params.trainable()];
      let noisyMse = 0;
      const { value, grads } = tf.variableGrads(
        () => {
          const out = task.loss(batch, { ...ctx, replica: 0 });
          noisyMse = out.logs.noisyMse.dataSync()[0];
          return out.loss;
        },
        vars.map(([, v]) => v),
      );
      const want = value.dataSync()[0];
      const wantGrads = layout.names.map((name) => grads[task.params.get(name).name].dataSync() as Float32Array);
      tf.dispose([value, ...Object.values(grads)]);
      const gradError = (got: Float32Array) => {
        let offset = 0;
        let worst = 0;
        layout.sizes.forEach((size, i) => {
          worst = Math.max(worst, maxRelativeError(got.subarray(offset, offset + size), wantGrads[i]));
          offset += size;
        });
        return worst;
      };

      const got = await engine.gradients(batch, ctx);
      const grad = gradError(got.grads);
      console.log(`DAE task step: loss ${(Math.abs(got.loss - want) / want).toExponential(2)}, worst gradient ${grad.toExponential(2)}`);
      expect(Math.abs(got.loss - want) / want).toBeLessThan(1e-5);
      expect(Object.keys(got.logs)).toEqual(["noisyMse"]);
      expect(Math.abs(got.logs.noisyMse - noisyMse) / noisyMse).toBeLessThan(1e-5);
      expect(grad).toBeLessThan(1e-4);

      // Step 6's corruption of the same batch: other noise, another step.
      const other = await engine.gradients(batch, { ...ctx, step: 6 });
      const otherGrad = gradError(other.grads);
      console.log(`DAE task step fed step 6's corruption: gradient ${otherGrad.toExponential(2)}`);
      expect(otherGrad).toBeGreaterThan(1e-2);
    } finally {
      await engine.close();
      task.dispose();
    }
  });
});
