// The hand-written ONNX encoder, judged by the one reader that matters: ONNX Runtime must load what it writes and
// compute the right numbers (every attribute kind we use, negative int64s, symbolic dims, weights as raw_data).
import { InferenceSession, Tensor } from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { ORT_SESSION_OPTIONS } from "./decoder-session";
import { DataType, GraphBuilder } from "./graph";
import { encodeModel } from "./proto";

const session = (bytes: Uint8Array) => InferenceSession.create(bytes, { ...ORT_SESSION_OPTIONS });

describe("ONNX ModelProto encoder", () => {
  it("writes a one-Add graph that ORT runs with the right numbers", async () => {
    const bytes = encodeModel({
      graph: {
        name: "add",
        nodes: [{ opType: "Add", inputs: ["a", "w"], outputs: ["y"] }],
        initializers: [{ name: "w", dataType: DataType.FLOAT, dims: [3], raw: new Uint8Array(Float32Array.of(1, 2, 3).buffer) }],
        inputs: [{ name: "a", elemType: DataType.FLOAT, shape: ["B", 3] }],
        outputs: [{ name: "y", elemType: DataType.FLOAT, shape: ["B", 3] }],
      },
    });
    const s = await session(bytes);
    const out = await s.run({ a: new Tensor("float32", Float32Array.of(10, 20, 30, 40, 50, 60), [2, 3]) });
    expect(out.y.dims).toEqual([2, 3]);
    expect([...(out.y.data as Float32Array)]).toEqual([11, 22, 33, 41, 52, 63]);
    await s.release();
  });

  it("encodes int, float and ints attributes, negative int64s and int64 initializers", async () => {
    const g = new GraphBuilder("attrs");
    const x = g.input("x", DataType.FLOAT, ["B", 2, 2]);
    const flat = g.op("Reshape", [x, g.ints([0, -1])]); // [B, 4]
    const leaky = g.op("LeakyRelu", [flat], { alpha: { f: 0.25 } });
    const soft = g.op("Softmax", [leaky], { axis: { i: -1 } });
    const t = g.op("Transpose", [soft], { perm: { ints: [1, 0] } }); // [4, B]
    const codes = g.input("codes", DataType.INT32, [2]);
    const rows = g.op("Gather", [g.weight("table", Float32Array.of(0, 1, 10, 11, 20, 21), [3, 2]), codes], { axis: { i: 0 } });
    const tail = g.op("Slice", [rows, g.ints([-1]), g.ints([Number.MAX_SAFE_INTEGER]), g.ints([1])]); // [2, 1]
    // Constant's int64 attributes come back verbatim: negative and > 32-bit varints must be 64-bit two's complement.
    const one = g.op("Constant", [], { value_int: { i: -5 } });
    const many = g.op("Constant", [], { value_ints: { ints: [-1, 3, -(2 ** 40), 2 ** 40 + 7] } });
    g.output(t, "t", DataType.FLOAT, [4, "B"]);
    g.output(one, "one", DataType.INT64, []);
    g.output(many, "many", DataType.INT64, [4]);
    g.output(tail, "tail", DataType.FLOAT, [2, 1]);
    const s = await session(g.toBytes());
    const out = await s.run({
      x: new Tensor("float32", Float32Array.of(-4, 0, 0, 0, 1, 2, 3, 4), [2, 2, 2]),
      codes: new Tensor("int32", Int32Array.of(2, 0), [2]),
    });
    const expected = [
      [-1, 0, 0, 0],
      [1, 2, 3, 4],
    ].map((r) => {
      const e = r.map((v) => Math.exp(v - Math.max(...r)));
      return e.map((v) => v / e.reduce((a, b) => a + b));
    });
    expect(out.t.dims).toEqual([4, 2]);
    const got = out.t.data as Float32Array;
    for (let i = 0; i < 4; i++) for (let b = 0; b < 2; b++) expect(got[i * 2 + b]).toBeCloseTo(expected[b][i], 6);
    expect([...(out.tail.data as Float32Array)]).toEqual([21, 1]);
    expect([...(out.one.data as BigInt64Array)]).toEqual([-5n]);
    expect([...(out.many.data as BigInt64Array)]).toEqual([-1n, 3n, -(2n ** 40n), 2n ** 40n + 7n]);
    await s.release();
  });

  it("renames a node's output in place rather than adding an Identity", () => {
    const g = new GraphBuilder("named");
    const x = g.input("x", DataType.FLOAT, [1]);
    const y = g.op("Neg", [x]);
    g.op("Abs", [y]);
    g.output(y, "y", DataType.FLOAT, [1]);
    expect(g.nodeCount()).toBe(2);
  });
});
