// The lab (issue 19): the course's other generative models, each with a job in the app, trained by
// `npm run train:lab -- --model <kind>` into the servable model folder's `lab/<kind>/`. This file says what each
// is, the objective it optimises, where the app uses it, and reads its metrics from its manifest, for /lab.
import fs from "node:fs";
import path from "node:path";

/** The lab models the app knows, in the order /lab shows them. */
export const LAB_KINDS = ["vae", "flow", "dae", "aae", "ica"] as const;
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
      "log-variance of a 128-d Gaussian q(z|x), a sample z = μ + σ·ε (the reparameterisation trick) is decoded to a " +
      "distribution over every pixel value's 256 levels (the shipped model: a discretised logistic, as PixelCNN++; a " +
      "Gaussian is the other choice). Sampling around an image's μ gives variations of it; decoding spherical " +
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
  dae: {
    title: "Denoising autoencoder — clean-up of noisy uploads",
    what:
      "A convolutional denoising autoencoder (Vincent et al. 2008): every training image is corrupted afresh from a seed " +
      "as an upload is damaged (a soft focus, Gaussian noise with σ up to 0.15, salt and pepper on some, a JPEG round trip " +
      "at quality 10–70; a fifth left clean) and the net learns to give back the " +
      "clean one; its decoder writes a correction added to the input, so a clean picture passes through nearly untouched. " +
      "An admin's retrain can run it over every upload first (npm run retrain -- --data FOLDER --denoise), with a " +
      "before/after sheet in the run's folder.",
    objective: "minimise E_x E_{x̃ ~ q(x̃|x)} ‖g(f(x̃)) − x‖² (mean squared error against the clean image)",
    usedIn: [{ label: "npm run retrain -- --data FOLDER --denoise (then activate on /models)", href: "/models" }],
    metrics: [
      ["valNoisyPsnr", "val PSNR of the corrupted input, dB"],
      ["valDenoisedPsnr", "val PSNR after denoising, dB"],
      ["valCleanPsnr", "val PSNR on clean input (untouched = 100), dB"],
    ],
  },
  aae: {
    title: "Adversarial autoencoder — the VAE's KL replaced by a discriminator",
    what:
      "The VAE's encoder, decoder and likelihood (Makhzani et al. 2016), but instead of the KL term a small discriminator on the " +
      "128-d latent learns to tell prior samples z ~ N(0, I) from codes of real images, and the encoder learns to fool it: " +
      "the codes' overall distribution is pushed to the prior, each image's own code is not. Decoding prior samples gives " +
      "new images; the table below compares them with the VAE's.",
    objective:
      "minimise E_q[−log p(x|z)] + λ·E_q[−log D(z)] for the autoencoder while D minimises −log D(z_prior) − log(1 − D(z_q)) (non-saturating GAN)",
    usedIn: [{ label: "the sample-quality table: AAE against VAE", href: "/lab#compare" }],
    metrics: [
      ["valRecBitsPerDim", "val reconstruction term, bits/dim (no KL: not a bound)"],
      ["valZStd", "codes' std per dimension (prior: 1)"],
      ["valZMeanAbs", "codes' |mean| per dimension (prior: 0)"],
      ["valDiscAccuracy", "discriminator accuracy on val (0.5 = fooled)"],
    ],
  },
  ica: {
    title: "ICA beside PCA — the emoji's linear components",
    what:
      "PCA finds the orthogonal directions of most variance of the flattened 32×32 images; FastICA (Hyvärinen & Oja 2000) " +
      "rotates the same whitened k-dimensional subspace to make the coefficients as non-Gaussian (independent) as it can. " +
      "All k components reconstruct equally well (the same subspace); with only the m largest coefficients per image they " +
      "differ. The sheet shows PCA's components, ICA's, and reconstructions from m coefficients each.",
    objective:
      "PCA: maximise the variance of wᵀx over orthonormal w; FastICA: maximise Σ_i E[log cosh(w_iᵀz)] over orthonormal W on whitened z",
    usedIn: [{ label: "the components sheet and reconstruction rows on this page", href: "/lab#lab-ica" }],
    metrics: [
      ["k", "components"],
      ["pcaValPsnr", "PCA, k components: val PSNR, dB"],
      ["icaValPsnr", "ICA, k components: val PSNR, dB"],
      ["m", "coefficients kept per image"],
      ["pcaTopMPsnr", "PCA, m largest coefficients: val PSNR, dB"],
      ["icaTopMPsnr", "ICA, m largest coefficients: val PSNR, dB"],
      ["pcaKurtosis", "PCA coefficients: mean |excess kurtosis|"],
      ["icaKurtosis", "ICA coefficients: mean |excess kurtosis|"],
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

/** One row of the sample-quality table (training/lab/sample-quality.ts, written by `npm run eval:lab`). */
export interface ComparisonRow {
  name: string;
  bitsPerDim: number;
  atypical: number;
  clipScore: number;
  labelsExact1: number;
  labelsFamily5: number;
}

/** The model folder's `lab/eval-lab.json` as table rows; null when it has none (or it cannot be read). */
export function labComparison(modelDir: string, root = process.cwd()): ComparisonRow[] | null {
  const file = path.resolve(/*turbopackIgnore: true*/ root, modelDir, "lab", "eval-lab.json");
  try {
    const j = JSON.parse(fs.readFileSync(file, "utf8")) as {
      rows: Record<
        string,
        { bitsPerDim: number; atypical: number; clipScore: number; labelRetrieval: { exact1: number; family5: number } }
      >;
    };
    return Object.entries(j.rows).map(([name, r]) => ({
      name,
      bitsPerDim: r.bitsPerDim,
      atypical: r.atypical,
      clipScore: r.clipScore,
      labelsExact1: r.labelRetrieval.exact1,
      labelsFamily5: r.labelRetrieval.family5,
    }));
  } catch {
    return null;
  }
}

/** How often a lab model's variations keep their source's label family (eval:lab's `variations`). */
export interface VariationKeepRow {
  model: string;
  sources: number;
  keepsFamilyPixels: number;
  keepsFamilyClip: number;
}

/** The model folder's measured variation keep rates (empty when eval:lab did not measure them, or cannot be read). */
export function labVariationKeep(modelDir: string, root = process.cwd()): VariationKeepRow[] {
  const file = path.resolve(/*turbopackIgnore: true*/ root, modelDir, "lab", "eval-lab.json");
  try {
    const j = JSON.parse(fs.readFileSync(file, "utf8")) as {
      variations?: Record<string, { sources: number; keepsFamilyPixels: number; keepsFamilyClip: number }>;
    };
    return Object.entries(j.variations ?? {}).map(([model, v]) => ({
      model,
      sources: v.sources,
      keepsFamilyPixels: v.keepsFamilyPixels,
      keepsFamilyClip: v.keepsFamilyClip,
    }));
  } catch {
    return [];
  }
}
