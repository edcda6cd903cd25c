// The lab (issue 19): the course's other generative models, each with a job in the app, trained by
// `npm run train:lab -- --model <kind>` into the servable model folder's `lab/<kind>/`. This file says what each
// is, the objective it optimises, where the app uses it, and reads its metrics from its manifest, for /lab.
import fs from "node:fs";
import path from "node:path";

/** The lab models the app knows, in the order /lab shows them. */
export const LAB_KINDS = ["vae", "flow"] as const;
export type LabKind = (typeof LAB_KINDS)[number];

export interface LabModelInfo {
  title: string;
  /** One paragraph: what it is. */
  what: string;
  /** The objective it optimises, as plain text. */
  objective: string;
  /** Where the app uses it. */
  usedIn: { label: string; href: string }[];
  /** Manifest metrics shown, with their labels (a metric the manifest lacks is left out). */
  metrics: [key: string, label: string][];
}

export const LAB_MODELS: Readonly<Record<LabKind, LabModelInfo>> = Object.freeze({
  vae: {
    title: "VAE — variations and blends",
    what:
      "A convolutional variational autoencoder (Kingma & Welling 2014) on the 32×32 emoji: the encoder gives the mean and " +
      "log-variance of a 128-d Gaussian q(z|x), a sample z = μ + σ·ε (the reparameterisation trick) is decoded to a Gaussian " +
      "over every dequantised pixel value. Sampling around an image's μ gives variations of it; decoding spherical " +
      "interpolations between two μ's blends two images.",
    objective: "maximise the ELBO: E_q[log p(x|z)] − KL(q(z|x) ‖ N(0, I)), the KL in closed form ½ Σ (μ² + σ² − 1 − log σ²)",
    usedIn: [{ label: "Variations and Blend on every generation's page", href: "/gallery" }],
    metrics: [
      ["valBitsPerDim", "val −ELBO, bits/dim"],
      ["baselineBitsPerDim", "baseline: diagonal Gaussian on pixels, bits/dim"],
      ["valKl", "val KL, nats/image"],
      ["valActiveUnits", "active latent units"],
    ],
  },
  flow: {
    title: "Real-NVP — a typicality score",
    what:
      "A normalising flow (Dinh et al. 2017) on the 32×32 emoji: affine coupling layers with checkerboard and channel masks, " +
      "a squeeze and a factored-out half, on dequantised, logit-transformed pixels. Its exact likelihood scores how typical " +
      "an image is of the training data: every generated image gets its bits/dim, and those above the 99th percentile " +
      "of held-out emoji are flagged.",
    objective:
      "maximise log p(x) = log N(f(x); 0, I) + log |det ∂f/∂x| (change of variables; the log-determinant of a coupling is the sum of its scales s)",
    usedIn: [
      { label: "bits/dim on every generation's page", href: "/gallery" },
      { label: "the gallery sorted by typicality", href: "/gallery?sort=typical" },
    ],
    metrics: [
      ["valBitsPerDim", "val bits/dim"],
      ["baselineBitsPerDim", "baseline: diagonal Gaussian on pixels, bits/dim"],
      ["typicalThreshold", "flagged above (99th percentile of val), bits/dim"],
    ],
  },
});

export interface LabCard {
  kind: LabKind;
  info: LabModelInfo;
  /** Null when the model folder has no `lab/<kind>/` (not trained yet). */
  trained: { metrics: [label: string, value: number][]; steps: number | null; hasSamples: boolean } | null;
}

/** The folder of one lab model inside a servable model folder. */
export function labDir(modelDir: string, kind: LabKind): string {
  return path.join(modelDir, "lab", kind);
}

/** What /lab shows for the model folder `modelDir` (relative to `root`): every lab model, trained or not. */
export function labCards(modelDir: string, root = process.cwd()): LabCard[] {
  return LAB_KINDS.map((kind) => {
    const dir = path.resolve(/*turbopackIgnore: true*/ root, labDir(modelDir, kind));
    const info = LAB_MODELS[kind];
    let manifest: { metrics?: Record<string, unknown>; step?: unknown };
    try {
      manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
    } catch {
      return { kind, info, trained: null };
    }
    const m = manifest.metrics ?? {};
    const metrics = info.metrics.flatMap(([key, label]): [string, number][] => (typeof m[key] === "number" ? [[label, m[key]]] : []));
    const steps = typeof manifest.step === "number" ? manifest.step : null;
    return { kind, info, trained: { metrics, steps, hasSamples: fs.existsSync(path.join(dir, "samples.png")) } };
  });
}
