// Checkpoint averaging (Vaswani et al. 2017, §6.1; Izmailov et al. 2018): what may be averaged, and the mean.
// The script is `training/average-checkpoints.ts`.
import * as tf from "@tensorflow/tfjs";
import type { CheckpointManifest } from "../../lib/model/checkpoint";

/** Why `b` cannot be averaged with `a` (null when it can): kind, config, data and every tensor's name and shape. */
export function incompatibility(a: CheckpointManifest, b: CheckpointManifest): string | null {
  if (a.kind !== b.kind) return `kind "${b.kind}" is not "${a.kind}"`;
  if (JSON.stringify(a.config) !== JSON.stringify(b.config)) return "its config differs";
  if (a.dataHash !== b.dataHash) return "it was trained on other data (data hash differs)";
  const shapes = (m: CheckpointManifest) => m.weights.tensors.map((t) => `${t.name}:${t.shape.join("x")}`).join(",");
  if (shapes(a) !== shapes(b)) return "its tensors (names or shapes) differ";
  return null;
}

/** The element-wise mean of equally named tensors (each map's tensors are left to the caller). */
export function averageTensors(sets: Map<string, tf.Tensor>[]): Map<string, tf.Tensor> {
  if (!sets.length) throw new Error("nothing to average");
  const out = new Map<string, tf.Tensor>();
  for (const name of sets[0].keys())
    out.set(
      name,
      tf.tidy(() => tf.div(tf.addN(sets.map((s) => s.get(name)!)), sets.length)),
    );
  return out;
}
