// The DAE's upload artefacts: the JPEG round trip must degrade a picture as a real JPEG codec (sharp/libjpeg) does
// at the same quality, with 8×8 blocking, and the soft focus must be a blur of the asked strength.
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../tensor/backend";
import { blobPictures } from "../../test/fixtures/blob-pictures";
import { jpegRoundTrip, softFocus } from "./upload-artifacts";

const SIZE = 32;
const N = 6;
const pictures = blobPictures(N, SIZE, 11);
const psnr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.length));
};
const ours = (q: number) =>
  tf.tidy(() => {
    const x = tf.div(tf.tensor4d(pictures, [N, SIZE, SIZE, 3], "float32"), 255) as tf.Tensor4D;
    return Array.from(tf.round(tf.mul(jpegRoundTrip(x, tf.fill([N], q) as tf.Tensor1D), 255)).dataSync());
  });
async function libjpeg(q: number): Promise<number[]> {
  const out: number[] = [];
  for (let b = 0; b < N; b++) {
    const raw = { width: SIZE, height: SIZE, channels: 3 as const };
    const slice = pictures.subarray(b * SIZE * SIZE * 3, (b + 1) * SIZE * SIZE * 3);
    const jpg = await sharp(Buffer.from(slice), { raw }).jpeg({ quality: q, chromaSubsampling: "4:2:0" }).toBuffer();
    out.push(...(await sharp(jpg).raw().toBuffer()));
  }
  return out;
}

beforeAll(async () => {
  await initBackend();
});

describe("jpegRoundTrip", () => {
  it("loses as much as libjpeg at the same quality (within 0.3 dB), more the lower the quality", async () => {
    const rows: [number, number, number][] = [];
    for (const q of [10, 30, 60, 90]) rows.push([q, psnr(pictures, ours(q)), psnr(pictures, await libjpeg(q))]);
    for (const [, mine, real] of rows) expect(Math.abs(mine - real)).toBeLessThan(0.3);
    for (let i = 1; i < rows.length; i++) expect(rows[i][1]).toBeGreaterThan(rows[i - 1][1]);
    expect(rows[0][1]).toBeLessThan(32); // quality 10 visibly hurts
  });

  it("leaves 8×8 blocks: the jumps across block borders outgrow those inside blocks at low quality", () => {
    const out = ours(10);
    let border = 0,
      inside = 0;
    let nb = 0,
      ni = 0;
    for (let b = 0; b < N; b++)
      for (let y = 0; y < SIZE; y++)
        for (let x = 1; x < SIZE; x++) {
          const i = ((b * SIZE + y) * SIZE + x) * 3;
          const jump = Math.abs(out[i] - out[i - 3]) - Math.abs(pictures[i] - pictures[i - 3]);
          if (x % 8 === 0) ((border += jump), nb++);
          else ((inside += jump), ni++);
        }
    expect(border / nb).toBeGreaterThan(inside / ni + 0.5);
  });

  it("refuses sizes that are not whole 16-pixel macroblocks, and leaks no tensors", () => {
    const before = tf.memory().numTensors;
    ours(50);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => jpegRoundTrip(tf.zeros([1, 12, 12, 3]) as tf.Tensor4D, tf.tensor1d([50]))).toThrow(/multiples of 16/);
  });
});

describe("softFocus", () => {
  it("is the identity at α 0 and the twice-binomial blur at α 1 (checked at an interior pixel)", () => {
    tf.tidy(() => {
      const x = tf.div(tf.tensor4d(pictures, [N, SIZE, SIZE, 3], "float32"), 255) as tf.Tensor4D;
      const same = softFocus(x, tf.zeros([N]) as tf.Tensor1D);
      expect(tf.max(tf.abs(tf.sub(same, x))).dataSync()[0]).toBeLessThan(1e-6);
      const full = softFocus(x, tf.ones([N]) as tf.Tensor1D).arraySync() as number[][][][];
      const px = x.arraySync() as number[][][][];
      // [1 2 1]⊛[1 2 1] = [1 4 6 4 1]/16 per axis.
      const k5 = [1, 4, 6, 4, 1].map((v) => v / 16);
      for (const [b, y, xx, c] of [
        [0, 10, 10, 0],
        [3, 16, 5, 2],
        [5, 20, 27, 1],
      ]) {
        let want = 0;
        for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) want += k5[dy + 2] * k5[dx + 2] * px[b][y + dy][xx + dx][c];
        expect(full[b][y][xx][c]).toBeCloseTo(want, 5);
      }
    });
  });
});
