// The adversarial autoencoder's one-scalar objective keeps each player to its own loss: the encoder's adversarial
// term moves the encoder and not the latent discriminator, D's term moves D and not the encoder, and the
// reconstruction term never touches D. Also: a checkpoint round trip, and no leaked tensors.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AAE, DEFAULT_AAE_CONFIG, LATENT_DISC_PREFIX, type AAEConfig } from "./aae";
import { saveCheckpoint } from "./checkpoint";
import { selectBackend } from "../tensor/backend";
import { registerFastGradients } from "../tensor/gradients";

const tiny: AAEConfig = { ...DEFAULT_AAE_CONFIG, widths: [8, 8, 16], latentDim: 8, discHidden: 16 };
let dir: string;
beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-aae-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const images = () => tf.randomUniform([4, 32, 32, 3], 0, 1, "float32", 11) as tf.Tensor4D;

/** ‖∂term/∂θ‖ summed over the encoder's, the decoder's and D's parameters. */
function gradientNorms(model: AAE, pick: (t: ReturnType<AAE["terms"]>) => tf.Scalar): { enc: number; dec: number; disc: number } {
  const x = images();
  const names = model.params.names();
  const vars = names.map((n) => model.params.get(n));
  const { grads } = tf.variableGrads(() => pick(model.terms(x, 5)), vars);
  const norm = (prefix: string) =>
    names
      .filter((n) => n.startsWith(prefix))
      .reduce((s, n) => {
        // A parameter the term does not reach gets no gradient at all (null): zero.
        const g = grads[vars[names.indexOf(n)].name];
        return s + (g ? tf.tidy(() => tf.sum(tf.square(g)).dataSync()[0]) : 0);
      }, 0);
  const out = { enc: norm("vae.enc."), dec: norm("vae.dec."), disc: norm(LATENT_DISC_PREFIX) };
  tf.dispose([x, ...Object.values(grads).filter((g) => g)]);
  return out;
}

describe("AAE", () => {
  it("routes each player's gradient to its own parameters only", () => {
    const m = new AAE(tiny, 3);
    const gen = gradientNorms(m, (t) => t.generator);
    expect(gen.enc).toBeGreaterThan(0);
    expect(gen.disc).toBe(0);
    expect(gen.dec).toBe(0);
    const disc = gradientNorms(m, (t) => t.discriminator);
    expect(disc.disc).toBeGreaterThan(0);
    expect(disc.enc).toBe(0);
    const rec = gradientNorms(m, (t) => tf.mean(t.nll) as tf.Scalar);
    expect(rec.enc).toBeGreaterThan(0);
    expect(rec.dec).toBeGreaterThan(0);
    expect(rec.disc).toBe(0);
    m.dispose();
  });

  it("round-trips through a checkpoint (discriminator included) and leaks no tensors", async () => {
    const a = new AAE(tiny, 4);
    const ckpt = path.join(dir, "aae");
    await saveCheckpoint(ckpt, a.params.all(), { kind: "aae", config: a.config });
    const { model: b } = AAE.load(ckpt);
    const x = images();
    const before = tf.memory().numTensors;
    const [ta, tb] = [a.terms(x, 1), b.terms(x, 1)];
    const la = [ta.nll, ta.generator, ta.discriminator].map((t) => tf.tidy(() => tf.sum(t).dataSync()[0]));
    const lb = [tb.nll, tb.generator, tb.discriminator].map((t) => tf.tidy(() => tf.sum(t).dataSync()[0]));
    lb.forEach((v, i) => expect(v).toBeCloseTo(la[i], 3));
    tf.dispose([...Object.values(ta), ...Object.values(tb)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(x);
    a.dispose();
    b.dispose();
    expect(() => new AAE({ ...tiny, discHidden: 0 })).toThrow(/discHidden/);
  });
});
