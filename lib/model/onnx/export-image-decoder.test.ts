// The exported image decoder against the tfjs one it stands in for in a browser (VQModel.decodeCodes), on the
// shipped image tokenizers and a freshly initialised zero-padded one; and proof that the comparison can tell, by
// exporting with each planted bug.
import { InferenceSession, Tensor } from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { mulberry32 } from "../../data/rng";
import { selectBackend } from "../../tensor/backend";
import { VQModel } from "../vq-model";
import type { PlantedConvBugs } from "./conv-nodes";
import { ORT_SESSION_OPTIONS } from "./decoder-session";
import { exportImageDecoder } from "./export-image-decoder";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
});

/** Max |tfjs − ONNX| over the pixels of `rows` random code grids. */
async function maxDecodeDiff(model: VQModel, planted: PlantedConvBugs = {}, rows = 3): Promise<number> {
  const grid = model.grid;
  const rand = mulberry32(7);
  const codes = Array.from({ length: rows }, () =>
    Int32Array.from({ length: grid * grid }, () => Math.floor(rand() * model.config.codebookSize)),
  );
  const want = model.decodeCodes(codes); // [B, S, S, C]
  const expected = want.dataSync();
  want.dispose();
  const graph = exportImageDecoder(model, planted);
  const session = await InferenceSession.create(graph.bytes, { ...ORT_SESSION_OPTIONS });
  try {
    const flat = new Int32Array(rows * grid * grid);
    codes.forEach((c, i) => flat.set(c, i * grid * grid));
    const out = await session.run({ [graph.names.codes]: new Tensor("int32", flat, [rows, grid, grid]) });
    const got = out[graph.names.images];
    expect(got.dims).toEqual([rows, model.config.imageSize, model.config.imageSize, model.config.channels]);
    const data = got.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(expected[i] - data[i]));
    return worst;
  } finally {
    await session.release();
  }
}

describe("exportImageDecoder", () => {
  for (const dir of ["models/image-tokenizer", "models/shapes/image-tokenizer"]) {
    it(`equals the tfjs decoder on ${dir} (≤ 1e-4)`, async () => {
      const { model } = VQModel.load(dir);
      try {
        expect(await maxDecodeDiff(model)).toBeLessThanOrEqual(1e-4);
      } finally {
        model.dispose();
      }
    });
  }

  it("equals the tfjs decoder of a zero-padded tokenizer", async () => {
    const { model: shipped } = VQModel.load("models/image-tokenizer");
    const model = new VQModel({ ...shipped.config, padding: "zero" }, 3);
    shipped.dispose();
    try {
      expect(await maxDecodeDiff(model, {}, 2)).toBeLessThanOrEqual(1e-4);
    } finally {
      model.dispose();
    }
  });

  it.each<[string, PlantedConvBugs]>([
    ["zero padding for edge", { zeroPadding: true }],
    ["CRD depth-to-space", { crdDepthToSpace: true }],
  ])("tells a planted bug: %s", async (_, planted) => {
    const { model } = VQModel.load("models/image-tokenizer");
    try {
      expect(await maxDecodeDiff(model, planted)).toBeGreaterThan(1e-2);
    } finally {
      model.dispose();
    }
  });
});
