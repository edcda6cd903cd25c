// Dropout masks for a native training graph (Srivastava et al. 2014), drawn on the host as 0/1 bytes: the graph
// scales kept values by 1/(1 − p) itself. Each mask of each step comes from its own seed, a hash of (task seed,
// step, replica, mask), so a resumed run draws exactly the masks it would have drawn, whatever ran before. Buffers are
// reused from step to step (the loop runs one step at a time, so a mask is never refilled while ORT reads it).
import { hashString } from "../../lib/data/rng";
import type { NativeFeed } from "./task";

export class DropoutMasks {
  private readonly buffers = new Map<string, Uint8Array>();
  /** Keep a value when a 16-bit uniform draw is ≥ this. */
  private readonly threshold: number;

  constructor(
    private readonly shapes: Record<string, number[]>,
    readonly rate: number,
  ) {
    if (!(rate >= 0 && rate < 1)) throw new Error(`dropout rate must be in [0, 1), got ${rate}`);
    this.threshold = Math.round(rate * 65536);
    for (const [name, dims] of Object.entries(shapes)) this.buffers.set(name, new Uint8Array(dims.reduce((a, b) => a * b, 1)));
  }

  /** The masks of `step` for `replica`'s shard (1 = keep, with probability 1 − rate up to 2⁻¹⁶), as graph feeds. */
  draw(seed: number, step: number, replica = 0): Record<string, NativeFeed> {
    const out: Record<string, NativeFeed> = {};
    for (const [name, buf] of this.buffers) {
      // Replica 0 keeps the key a one-session run has always used, so its masks (and a resumed run's) are unchanged.
      fill(buf, this.threshold, hashString(replica ? `dropout:${step}:r${replica}:${name}` : `dropout:${step}:${name}`, seed));
      out[name] = { type: "uint8", data: buf, dims: this.shapes[name] };
    }
    return out;
  }
}

/** mulberry32 (as lib/data/rng.ts), inlined: two 16-bit draws per 32-bit output over millions of bytes a step. */
function fill(buf: Uint8Array, threshold: number, seed: number): void {
  let a = seed >>> 0;
  const n = buf.length;
  for (let i = 0; i < n; i += 2) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    t = (t ^ (t >>> 14)) >>> 0;
    buf[i] = (t & 0xffff) >= threshold ? 1 : 0;
    if (i + 1 < n) buf[i + 1] = t >>> 16 >= threshold ? 1 : 0;
  }
}
