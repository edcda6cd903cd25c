// The image tokenizers' building blocks (../layers.ts, ../conv-stages.ts) as ONNX nodes: the one definition of a
// conv, a residual block and an up stage that the image decoder's serving graph (./export-image-decoder.ts) is
// built from, and that a training graph can reuse (issue 31). As ./layers.ts does for the transformer, weights are
// read by their ParamStore names, either baked in as initializers (serving, the browser) or fed as graph inputs
// (training: one session serves every step's weights), and always in the tfjs layout [k, k, Ci, Co]: the Transpose
// to ONNX's [Co, Ci, k, k] is a node, which ORT folds into a constant when the weight is an initializer, so both
// sources run the very same nodes. Activations are NCHW, the layout ONNX's Conv and DepthToSpace define.
import type { Padding } from "../layers";
import type { ParamStore } from "../params";
import { GraphBuilder } from "./graph";

/** How a graph gets the parameters: a ParamStore's values baked in, or graph inputs named as the store names them. */
export type ConvWeightSource = { kind: "values"; params: ParamStore } | { kind: "inputs" };

/** Deliberate deviations from the tfjs maths, for tests that prove the equality checks can tell (never set them in code). */
export interface PlantedConvBugs {
  /** Zero padding where the model pads with its border pixels. */
  zeroPadding?: boolean;
  /** DepthToSpace in CRD order instead of DCR (the channel order of ../layers.ts depthToSpace). */
  crdDepthToSpace?: boolean;
}

export class ConvNodes {
  private readonly weights = new Map<string, string>();

  constructor(
    readonly g: GraphBuilder,
    readonly source: ConvWeightSource,
    readonly planted: PlantedConvBugs = {},
  ) {}

  /** The parameter `name` in its ParamStore layout (once per graph): an initializer, or a graph input. */
  w(name: string, dims: number[]): string {
    let v = this.weights.get(name);
    if (!v) {
      if (this.source.kind === "values") {
        const p = this.source.params.get(name);
        if (p.shape.join() !== dims.join()) throw new Error(`${name}: the model has [${p.shape}], the graph expects [${dims}]`);
        v = this.g.weight(name, Float32Array.from(p.dataSync() as Float32Array), dims);
      } else {
        v = this.g.param(name, dims);
      }
      this.weights.set(name, v);
    }
    return v;
  }

  /** The parameters this graph reads, in the order it first read them. */
  params(): string[] {
    return [...this.weights.keys()];
  }

  /**
   * `conv` of ../layers.ts on x [B, Ci, H, W] → [B, Co, H, W]: stride 1, size kept, k×k with tfjs 'same' zero
   * padding or (k = 3) the border pixels repeated ("edge", what mirrorPad "symmetric" does for one pixel).
   */
  conv(x: string, name: string, k: number, ci: number, co: number, padding: Padding = "zero"): string {
    const g = this.g;
    const wOnnx = g.op("Transpose", [this.w(`${name}.w`, [k, k, ci, co])], { perm: { ints: [3, 2, 0, 1] } }); // [Co, Ci, k, k]
    const b = this.w(`${name}.b`, [co]);
    const p = (k - 1) / 2;
    if (p === 0) return g.op("Conv", [x, wOnnx, b]);
    if (padding === "edge" && !this.planted.zeroPadding) {
      if (k !== 3) throw new Error(`edge padding is implemented for 1×1 and 3×3 convs, got ${k}×${k}`);
      // ONNX Pad's pads: begins of every axis, then ends; NCHW pads H and W only.
      const padded = g.op("Pad", [x, g.ints([0, 0, p, p, 0, 0, p, p])], { mode: { s: "edge" } }); // [B, Ci, H+2, W+2]
      return g.op("Conv", [padded, wOnnx, b]);
    }
    return g.op("Conv", [x, wOnnx, b], { pads: { ints: [p, p, p, p] } });
  }

  relu(x: string): string {
    return this.g.op("Relu", [x]);
  }

  /** resBlock of ../layers.ts: x + conv1×1(relu(conv3×3(relu(x)))), x [B, ch, H, W]. */
  resBlock(x: string, name: string, ch: number, padding: Padding): string {
    const h = this.conv(this.relu(x), `${name}.conv1`, 3, ch, ch, padding);
    return this.g.op("Add", [x, this.conv(this.relu(h), `${name}.conv2`, 1, ch, ch)]);
  }

  /**
   * depthToSpace of ../layers.ts: [B, 4C, H, W] → [B, C, 2H, 2W]. Its channel order (dy, dx, c) is ONNX's DCR mode
   * (https://onnx.ai/onnx/operators/onnx__DepthToSpace.html).
   */
  depthToSpace(x: string): string {
    return this.g.op("DepthToSpace", [x], { blocksize: { i: 2 }, mode: { s: this.planted.crdDepthToSpace ? "CRD" : "DCR" } });
  }

  /**
   * spaceToDepth of ../layers.ts: [B, C, H, W] → [B, 4C, H/2, W/2]. Its channel order (dy, dx, c) is the one ONNX's
   * SpaceToDepth writes (https://onnx.ai/onnx/operators/onnx__SpaceToDepth.html), the inverse of DCR DepthToSpace.
   */
  spaceToDepth(x: string): string {
    return this.g.op("SpaceToDepth", [x], { blocksize: { i: 2 } });
  }

  /**
   * downStages of ../conv-stages.ts, highest resolution first: space-to-depth, the stage's mix (3×3 on the first
   * stage's raw pixels, 1×1 deeper), its residual blocks. x [B, channels, H, W] → [B, widths[n−1], H/2^n, W/2^n].
   */
  downStages(x: string, prefix: string, channels: number, widths: readonly number[], resBlocks: number, padding: Padding): string {
    let h = x;
    let inCh = channels;
    widths.forEach((width, i) => {
      h = this.conv(this.spaceToDepth(h), `${prefix}.${i}.mix`, i === 0 ? 3 : 1, 4 * inCh, width, padding); // [B, width, H/2, W/2]
      for (let j = 0; j < resBlocks; j++) h = this.resBlock(h, `${prefix}.${i}.res${j}`, width, padding);
      inCh = width;
    });
    return h;
  }

  /**
   * upStages of ../conv-stages.ts, coarsest first: each stage's residual blocks, then a 1×1 conv to 4× the next
   * width and depth-to-space. x [B, widths[n−1], h, w] → [B, outWidth, h·2^n, w·2^n].
   */
  upStages(x: string, prefix: string, widths: readonly number[], resBlocks: number, padding: Padding, outWidth: number): string {
    let h = x;
    for (let i = widths.length - 1; i >= 0; i--) {
      const width = widths[i];
      const next = i === 0 ? outWidth : widths[i - 1];
      for (let j = 0; j < resBlocks; j++) h = this.resBlock(h, `${prefix}.${i}.res${j}`, width, padding);
      h = this.depthToSpace(this.conv(this.relu(h), `${prefix}.${i}.up`, 1, width, 4 * next)); // [B, next, 2H, 2W]
    }
    return h;
  }
}
