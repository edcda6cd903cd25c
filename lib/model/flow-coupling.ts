// Real-NVP's affine coupling layer (Dinh et al. 2017, §3.3–3.4): split x by a binary mask b into a part that is
// kept and a part that is transformed, conditioned on the kept part only,
//   y = b ⊙ x + (1 − b) ⊙ (x ⊙ exp(s(b ⊙ x)) + t(b ⊙ x)),
// so the Jacobian is triangular and log|det ∂y/∂x| = Σ (1 − b) ⊙ s: exact and cheap, whatever s and t are.
// The inverse needs no inverse of s or t: x = b ⊙ y + (1 − b) ⊙ ((y − t(b ⊙ y)) ⊙ exp(−s(b ⊙ y))).
// Two masks (§3.4): a spatial checkerboard, and a channel split (after a squeeze).
import * as tf from "@tensorflow/tfjs";
import { conv, createConv, createResBlock, resBlock, type Conv, type ResBlock } from "./layers";
import type { ParamStore } from "./params";

/** The s and t networks, one residual CNN with 2·C outputs (§3.6 uses deep ResNets; this is a small one). */
export interface CouplingNet {
  inConv: Conv;
  blocks: ResBlock[];
  /** Zero-initialised (as Glow, Kingma & Dhariwal 2018): every coupling starts as the identity. */
  outConv: Conv;
  /** Per-channel bound of s = scale · tanh(·) (the reference implementation's "scale * tanh"): keeps exp(s) sane early. */
  scale: tf.Variable; // [C]
}

export type Coupling =
  /** Checkerboard: pixels with (h + w) % 2 === parity are kept (conditioning), the others transformed. */
  | { mask: "checkerboard"; parity: 0 | 1; net: CouplingNet }
  /** Channel split: half 0 keeps the first half of the channels and transforms the second; half 1 the reverse. */
  | { mask: "channel"; half: 0 | 1; net: CouplingNet };

/** `channels` is the C of the tensor the coupling transforms. */
export function createCoupling(
  store: ParamStore,
  name: string,
  mask: Coupling["mask"],
  which: 0 | 1,
  channels: number,
  width: number,
  resBlocks: number,
): Coupling {
  // A checkerboard net also sees the mask itself as one more channel, so it knows which pixels are the zeros it
  // was given; a channel net sees the kept half (C/2) and transforms the other half.
  const ci = mask === "checkerboard" ? channels + 1 : channels / 2;
  const co = mask === "checkerboard" ? channels : channels / 2;
  const net: CouplingNet = {
    inConv: createConv(store, `${name}.in`, 3, ci, width),
    blocks: Array.from({ length: resBlocks }, (_, j) => createResBlock(store, `${name}.res${j}`, width)),
    outConv: createConv(store, `${name}.out`, 3, width, 2 * co, 0),
    scale: store.add(`${name}.scale`, tf.ones([co])),
  };
  return mask === "checkerboard" ? { mask, parity: which, net } : { mask, half: which, net };
}

/** s and t of the conditioning input, each [B, H, W, co]. */
function scaleAndShift(net: CouplingNet, x: tf.Tensor4D): { s: tf.Tensor4D; t: tf.Tensor4D } {
  let h = conv(net.inConv, x); // [B, H, W, width]
  for (const b of net.blocks) h = resBlock(b, h);
  const out = conv(net.outConv, tf.relu(h)); // [B, H, W, 2·co]
  const [raw, t] = tf.split(out, 2, 3) as [tf.Tensor4D, tf.Tensor4D];
  return { s: tf.mul(net.scale, tf.tanh(raw)) as tf.Tensor4D, t };
}

/** b: [1, H, W, 1], 1 where (h + w) % 2 === parity (the kept pixels). */
export function checkerboardMask(height: number, width: number, parity: 0 | 1): tf.Tensor4D {
  const values = new Float32Array(height * width);
  for (let i = 0; i < height; i++) for (let j = 0; j < width; j++) values[i * width + j] = (i + j) % 2 === parity ? 1 : 0;
  return tf.tensor4d(values, [1, height, width, 1]);
}

/** The masked s, t of a checkerboard coupling: zero on the kept pixels, so exp(s) = 1 and t = 0 there. */
function checkerboardST(c: Extract<Coupling, { mask: "checkerboard" }>, x: tf.Tensor4D) {
  const [batch, h, w] = x.shape;
  const b = checkerboardMask(h, w, c.parity); // [1, H, W, 1]
  const free = tf.sub(1, b);
  const input = tf.concat([tf.mul(x, b), tf.tile(b, [batch, 1, 1, 1])], 3) as tf.Tensor4D; // [B, H, W, C+1]
  const { s, t } = scaleAndShift(c.net, input);
  return { s: tf.mul(s, free) as tf.Tensor4D, t: tf.mul(t, free) as tf.Tensor4D };
}

/** Kept and transformed halves of a channel coupling's input, and how to put them back in order. */
function channelHalves(c: Extract<Coupling, { mask: "channel" }>, x: tf.Tensor4D) {
  const [first, second] = tf.split(x, 2, 3) as [tf.Tensor4D, tf.Tensor4D]; // each [B, H, W, C/2]
  const [kept, free] = c.half === 0 ? [first, second] : [second, first];
  const join = (k: tf.Tensor4D, f: tf.Tensor4D) => tf.concat(c.half === 0 ? [k, f] : [f, k], 3) as tf.Tensor4D;
  return { kept, free, join };
}

/** y = f(x) and log|det ∂y/∂x| per image ([B], nats). */
export function couplingForward(c: Coupling, x: tf.Tensor4D): { y: tf.Tensor4D; logDet: tf.Tensor1D } {
  return tf.tidy(() => {
    if (c.mask === "checkerboard") {
      const { s, t } = checkerboardST(c, x);
      return { y: tf.add(tf.mul(x, tf.exp(s)), t) as tf.Tensor4D, logDet: tf.sum(s, [1, 2, 3]) as tf.Tensor1D };
    }
    const { kept, free, join } = channelHalves(c, x);
    const { s, t } = scaleAndShift(c.net, kept);
    return { y: join(kept, tf.add(tf.mul(free, tf.exp(s)), t) as tf.Tensor4D), logDet: tf.sum(s, [1, 2, 3]) as tf.Tensor1D };
  });
}

/** x = f⁻¹(y): s and t come from the kept part, which f left unchanged. */
export function couplingInverse(c: Coupling, y: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    if (c.mask === "checkerboard") {
      const { s, t } = checkerboardST(c, y);
      return tf.mul(tf.sub(y, t), tf.exp(tf.neg(s))) as tf.Tensor4D;
    }
    const { kept, free, join } = channelHalves(c, y);
    const { s, t } = scaleAndShift(c.net, kept);
    return join(kept, tf.mul(tf.sub(free, t), tf.exp(tf.neg(s))) as tf.Tensor4D);
  });
}
