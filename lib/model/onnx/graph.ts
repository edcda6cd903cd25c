// A small builder over proto.ts: fresh value names, deduplicated constants and one call per node, so an exporter
// reads like the tfjs code it mirrors. Operator semantics are those of the ONNX operator spec at opset 17
// (https://onnx.ai/onnx/operators/).
import {
  DataType,
  encodeModel,
  floatTensor,
  int32Tensor,
  int64Tensor,
  type Attribute,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "./proto";
import { inferShapes, type Shape } from "./shapes";

/**
 * Node names that mark an Identity as sg[·], the stop-gradient of van den Oord et al. 2017 (tf.stop_gradient,
 * torch's detach): the value forward, no gradient backward. ONNX has no such operator and ORT rejects attributes
 * an operator does not define, so the mark is the name; ORT runs the node as the plain Identity it is.
 */
const STOP_GRADIENT = "StopGradient.";

/** Whether the autodiff must treat `node` as a constant (see GraphBuilder.stopGradient). */
export const isStopGradient = (node: NodeProto) => node.opType === "Identity" && !!node.name?.startsWith(STOP_GRADIENT);

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly constants = new Map<string, string>();
  /** Static shapes of the values whose shapes are known (all of them in a graph with a fixed batch). */
  private readonly shapes = new Map<string, Shape>();
  private readonly intValues = new Map<string, number[]>();
  private count = 0;

  constructor(readonly name: string) {}

  input(name: string, elemType: DataType, shape: (number | string)[]): string {
    this.inputs.push({ name, elemType, shape });
    if (shape.every((d) => typeof d === "number")) this.shapes.set(name, shape as number[]);
    return name;
  }

  /** A trainable parameter fed as a graph input (not an initializer), so one session serves every step's weights. */
  param(name: string, dims: number[]): string {
    return this.input(name, DataType.FLOAT, dims);
  }

  /** The static shape of a value, or undefined where it depends on a symbolic dimension. */
  shapeOf(value: string): Shape | undefined {
    return this.shapes.get(value);
  }

  /** The values of an int64 constant made by `ints`, or undefined for any other value. */
  intsOf(value: string): number[] | undefined {
    return this.intValues.get(value);
  }

  /** The nodes so far, in order (a topological order: a node is added after the nodes making its inputs). */
  graphNodes(): readonly NodeProto[] {
    return this.nodes;
  }

  /**
   * Marks `value` as a graph output called `name`: the node that makes it is renamed in place (an Identity only
   * when it is a graph input or a weight), so outputs cost no extra kernel.
   */
  output(value: string, name: string, elemType: DataType, shape: (number | string)[]): void {
    const maker = this.nodes.find((n) => n.outputs.includes(value));
    if (value === name) {
      // already named
    } else if (maker && !this.outputs.some((o) => o.name === value)) {
      maker.outputs = maker.outputs.map((o) => (o === value ? name : o));
      for (const n of this.nodes) n.inputs = n.inputs.map((i) => (i === value ? name : i));
      const shape = this.shapes.get(value);
      if (shape) this.shapes.set(name, shape);
    } else {
      this.nodes.push({ opType: "Identity", inputs: [value], outputs: [name] });
    }
    this.outputs.push({ name, elemType, shape });
  }

  /** A float32 weight, stored in the model as an initializer. */
  weight(name: string, values: Float32Array, dims: number[]): string {
    this.initializers.push(floatTensor(name, values, dims));
    this.shapes.set(name, dims);
    return name;
  }

  /** An int64 constant (shape, axes, starts…), one initializer per distinct value. */
  ints(values: number[]): string {
    const name = this.constant(`i64[${values}]`, (n) => int64Tensor(n, values), [values.length]);
    this.intValues.set(name, values);
    return name;
  }

  /** An int32 constant [n] (e.g. 0..V−1 to compare int32 targets against). */
  int32s(values: number[]): string {
    return this.constant(`i32[${values}]`, (n) => int32Tensor(n, values), [values.length]);
  }

  /** A float32 scalar constant (rank 0, so it broadcasts against anything). */
  scalar(value: number): string {
    return this.constant(`f32(${Math.fround(value)})`, (name) => floatTensor(name, Float32Array.of(value), []), []);
  }

  /** Float32 zeros of a static shape, made at run time (ConstantOfShape's default value is a float 0). */
  zeros(dims: number[]): string {
    return this.op("ConstantOfShape", [this.ints(dims)]);
  }

  private constant(key: string, make: (name: string) => TensorProto, dims: number[]): string {
    let name = this.constants.get(key);
    if (!name) {
      name = `const.${this.constants.size}`;
      this.initializers.push(make(name));
      this.constants.set(key, name);
      this.shapes.set(name, dims);
    }
    return name;
  }

  /** Adds a node with one output and returns that output's name. */
  op(opType: string, inputs: string[], attributes?: Record<string, Attribute>): string {
    return this.opN(opType, inputs, 1, attributes)[0];
  }

  /** Adds a node with `n` outputs. */
  opN(opType: string, inputs: string[], n: number, attributes?: Record<string, Attribute>): string[] {
    const id = this.count++;
    const outputs = Array.from({ length: n }, (_, i) => `${opType}.${id}${n > 1 ? `.${i}` : ""}`);
    const node: NodeProto = { opType, inputs, outputs, name: `${opType}.${id}`, attributes };
    this.nodes.push(node);
    this.recordShapes(node);
    return outputs;
  }

  /** Records the static shapes of `node`'s outputs, where its inputs' shapes are known (./shapes.ts). */
  private recordShapes(node: NodeProto): void {
    const shapes = inferShapes(
      node.opType,
      node.inputs,
      node.inputs.map((i) => this.shapes.get(i)),
      node.attributes,
      node.outputs.length,
      (v) => this.intValues.get(v),
    );
    shapes?.forEach((s, i) => s && this.shapes.set(node.outputs[i], s));
  }

  /** sg[x]: x itself forward; the autodiff (./autodiff.ts) passes no gradient back through it. */
  stopGradient(x: string): string {
    const y = this.op("Identity", [x]);
    const node = this.nodes[this.nodes.length - 1];
    node.name = `${STOP_GRADIENT}${node.name}`;
    return y;
  }

  /**
   * Gives `node` at least `n` outputs (an operator's optional outputs, e.g. LayerNormalization's Mean and
   * InvStdDev, which its gradient reuses instead of recomputing them) and returns all of its outputs.
   */
  ensureOutputs(node: NodeProto, n: number): string[] {
    if (node.outputs.length >= n) return node.outputs;
    while (node.outputs.length < n) node.outputs.push(`${node.name}.out${node.outputs.length}`);
    this.recordShapes(node);
    return node.outputs;
  }

  toBytes(): Uint8Array {
    return encodeModel({
      opset: 17,
      graph: { name: this.name, nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs },
    });
  }

  nodeCount(): number {
    return this.nodes.length;
  }
}

export { DataType };
