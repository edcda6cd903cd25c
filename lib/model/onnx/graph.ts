// A small builder over proto.ts: fresh value names, deduplicated constants and one call per node, so an exporter
// reads like the tfjs code it mirrors. Operator semantics are those of the ONNX operator spec at opset 17
// (https://onnx.ai/onnx/operators/).
import {
  DataType,
  encodeModel,
  floatTensor,
  int64Tensor,
  type Attribute,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "./proto";

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly constants = new Map<string, string>();
  private count = 0;

  constructor(readonly name: string) {}

  input(name: string, elemType: DataType, shape: (number | string)[]): string {
    this.inputs.push({ name, elemType, shape });
    return name;
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
    } else {
      this.nodes.push({ opType: "Identity", inputs: [value], outputs: [name] });
    }
    this.outputs.push({ name, elemType, shape });
  }

  /** A float32 weight, stored in the model as an initializer. */
  weight(name: string, values: Float32Array, dims: number[]): string {
    this.initializers.push(floatTensor(name, values, dims));
    return name;
  }

  /** An int64 constant (shape, axes, starts…), one initializer per distinct value. */
  ints(values: number[]): string {
    return this.constant(`i64[${values}]`, (name) => int64Tensor(name, values));
  }

  /** A float32 scalar constant (rank 0, so it broadcasts against anything). */
  scalar(value: number): string {
    return this.constant(`f32(${Math.fround(value)})`, (name) => floatTensor(name, Float32Array.of(value), []));
  }

  private constant(key: string, make: (name: string) => TensorProto): string {
    let name = this.constants.get(key);
    if (!name) {
      name = `const.${this.constants.size}`;
      this.initializers.push(make(name));
      this.constants.set(key, name);
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
    this.nodes.push({ opType, inputs, outputs, name: `${opType}.${id}`, attributes });
    return outputs;
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
