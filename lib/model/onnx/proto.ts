// A minimal ONNX ModelProto writer: only the messages and fields our exported graphs use, hand-encoded in the
// protobuf wire format (https://protobuf.dev/programming-guides/encoding/) so serving needs neither Python's onnx
// package nor protobufjs. Field numbers are those of onnx/onnx.proto (proto2, IR version 8 = ONNX 1.10+, which
// opset 17 requires); a field we write that a reader does not expect fails loudly in the ORT session's parser.

/** TensorProto.DataType values (onnx.proto). */
export const DataType = { FLOAT: 1, UINT8: 2, INT32: 6, INT64: 7, BOOL: 9 } as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

export interface TensorProto {
  name: string;
  dataType: DataType;
  dims: number[];
  /** Little-endian element bytes (TensorProto.raw_data). */
  raw: Uint8Array;
}

/** One attribute value; the key says which AttributeProto field carries it. */
export type Attribute = { i: number } | { f: number } | { ints: number[] } | { floats: number[] } | { s: string } | { t: TensorProto };

export interface NodeProto {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attributes?: Record<string, Attribute>;
}

export interface ValueInfoProto {
  name: string;
  elemType: DataType;
  /** A number is a fixed dim_value, a string a symbolic dim_param (e.g. the batch "B"). */
  shape: (number | string)[];
}

export interface GraphProto {
  name: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
}

export interface ModelProto {
  graph: GraphProto;
  /** ai.onnx opset; 17 is the first with LayerNormalization. */
  opset?: number;
  irVersion?: number;
  producerName?: string;
}

// AttributeProto.AttributeType (onnx.proto).
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** Byte chunks appended in order; `finish()` joins them once (a model carries megabytes of weights). */
class Writer {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  /** Base-128 varint; negative int64 values are written as their 64-bit two's complement (10 bytes), as protobuf does. */
  varint(value: number): this {
    if (!Number.isSafeInteger(value)) throw new Error(`varint: ${value} is not a safe integer`);
    const out: number[] = [];
    if (value >= 0) {
      let v = value;
      while (v >= 0x80) {
        out.push((v % 0x80) | 0x80);
        v = Math.floor(v / 0x80);
      }
      out.push(v);
    } else {
      let v = BigInt.asUintN(64, BigInt(value));
      while (v >= 0x80n) {
        out.push(Number(v & 0x7fn) | 0x80);
        v >>= 7n;
      }
      out.push(Number(v));
    }
    this.push(Uint8Array.from(out));
    return this;
  }

  private tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  int(field: number, value: number): this {
    return this.tag(field, WIRE_VARINT).varint(value);
  }

  float(field: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.tag(field, WIRE_FIXED32).push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LEN).varint(value.length).push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, encode: (w: Writer) => void): this {
    const inner = new Writer();
    encode(inner);
    return this.bytes(field, inner.finish());
  }

  /** A packed repeated varint field (proto2 parsers accept packed and unpacked alike). */
  packedInts(field: number, values: number[]): this {
    const inner = new Writer();
    for (const v of values) inner.varint(v);
    return this.bytes(field, inner.finish());
  }

  packedFloats(field: number, values: number[]): this {
    const b = new Uint8Array(4 * values.length);
    const view = new DataView(b.buffer);
    values.forEach((v, i) => view.setFloat32(4 * i, v, true));
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function writeTensor(w: Writer, t: TensorProto): void {
  // TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9.
  if (t.dims.length) w.packedInts(1, t.dims);
  w.int(2, t.dataType).string(8, t.name).bytes(9, t.raw);
}

function writeAttribute(w: Writer, name: string, a: Attribute): void {
  // AttributeProto: name = 1, f = 2, i = 3, s = 4, t = 5, floats = 7, ints = 8, type = 20.
  w.string(1, name);
  if ("f" in a) w.float(2, a.f).int(20, AttributeType.FLOAT);
  else if ("i" in a) w.int(3, a.i).int(20, AttributeType.INT);
  else if ("s" in a) w.string(4, a.s).int(20, AttributeType.STRING);
  else if ("t" in a) w.message(5, (m) => writeTensor(m, a.t)).int(20, AttributeType.TENSOR);
  else if ("floats" in a) w.packedFloats(7, a.floats).int(20, AttributeType.FLOATS);
  else w.packedInts(8, a.ints).int(20, AttributeType.INTS);
}

function writeNode(w: Writer, n: NodeProto): void {
  // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5.
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const [name, a] of Object.entries(n.attributes ?? {})) w.message(5, (m) => writeAttribute(m, name, a));
}

function writeValueInfo(w: Writer, v: ValueInfoProto): void {
  // ValueInfoProto: name = 1, type = 2 → TypeProto.tensor_type = 1 → Tensor: elem_type = 1, shape = 2 →
  // TensorShapeProto.dim = 1 → Dimension: dim_value = 1 | dim_param = 2.
  w.string(1, v.name).message(2, (type) =>
    type.message(1, (tensor) =>
      tensor.int(1, v.elemType).message(2, (shape) => {
        for (const d of v.shape) shape.message(1, (dim) => (typeof d === "number" ? dim.int(1, d) : dim.string(2, d)));
      }),
    ),
  );
}

function writeGraph(w: Writer, g: GraphProto): void {
  // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12.
  for (const n of g.nodes) w.message(1, (m) => writeNode(m, n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, (m) => writeTensor(m, t));
  for (const v of g.inputs) w.message(11, (m) => writeValueInfo(m, v));
  for (const v of g.outputs) w.message(12, (m) => writeValueInfo(m, v));
}

/** The serialised ModelProto, ready for `InferenceSession.create(bytes)`. */
export function encodeModel(m: ModelProto): Uint8Array {
  // ModelProto: ir_version = 1, producer_name = 2, graph = 7, opset_import = 8 → OperatorSetIdProto: domain = 1,
  // version = 2 (the empty domain is ai.onnx).
  const w = new Writer();
  w.int(1, m.irVersion ?? 8).string(2, m.producerName ?? "tessera");
  w.message(7, (g) => writeGraph(g, m.graph));
  w.message(8, (o) => o.string(1, "").int(2, m.opset ?? 17));
  return w.finish();
}

/** A float32 tensor's bytes as raw_data (little-endian, as every machine we run on). */
export function floatTensor(name: string, values: Float32Array, dims: number[]): TensorProto {
  if (values.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`${name}: ${values.length} values for dims [${dims}]`);
  return { name, dataType: DataType.FLOAT, dims, raw: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

/** An int64 tensor (shapes, axes, split sizes), written as raw_data. */
export function int64Tensor(name: string, values: number[], dims: number[] = [values.length]): TensorProto {
  const b = BigInt64Array.from(values, (v) => BigInt(v));
  return { name, dataType: DataType.INT64, dims, raw: new Uint8Array(b.buffer) };
}

/** An int32 tensor, written as raw_data. */
export function int32Tensor(name: string, values: number[], dims: number[] = [values.length]): TensorProto {
  const b = Int32Array.from(values);
  return { name, dataType: DataType.INT32, dims, raw: new Uint8Array(b.buffer) };
}
