import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it, vi } from "vitest";
import { backendPlan, initBackend, parseBackendRequest, selectBackend, wasmBinaryDir, type BackendLoader } from "./backend";

const quiet = () => ({ info: vi.fn(), warn: vi.fn() });
const failing =
  (why: string): BackendLoader =>
  async () => {
    throw new Error(why);
  };

describe("TESSERA_BACKEND parsing", () => {
  it("treats unset and blank as auto and ignores case and spaces", () => {
    expect(parseBackendRequest(undefined)).toBe("auto");
    expect(parseBackendRequest("  ")).toBe("auto");
    expect(parseBackendRequest(" WASM ")).toBe("wasm");
  });
  it("rejects an unknown backend with the list of accepted ones", () => {
    expect(() => parseBackendRequest("cuda")).toThrow('TESSERA_BACKEND must be one of auto, tensorflow, webgpu, wasm, cpu; got "cuda"');
  });
});

describe("backend plan", () => {
  it("tries the native addon before wasm, and never picks webgpu or cpu on its own", () => {
    expect(backendPlan("auto")).toEqual(["tensorflow", "wasm"]);
  });
  it("falls back from a forced GPU or native backend to wasm, never to cpu", () => {
    expect(backendPlan("webgpu")).toEqual(["webgpu", "wasm"]);
    expect(backendPlan("tensorflow")).toEqual(["tensorflow", "wasm"]);
  });
  it("uses cpu only when forced", () => {
    expect(backendPlan("cpu")).toEqual(["cpu"]);
    for (const r of ["auto", "tensorflow", "webgpu", "wasm"] as const) expect(backendPlan(r)).not.toContain("cpu");
  });
});

describe("backend selection", () => {
  it("loads the real wasm backend from node_modules when no native addon is installed, and computes correctly", async () => {
    const log = quiet();
    const info = await selectBackend({ request: "auto", log });
    expect(["tensorflow", "wasm"]).toContain(info.name);
    if (info.name === "wasm") {
      expect(info.skipped.map((s) => s.name)).toEqual(["tensorflow"]);
      expect(info.detail).toMatch(/XNNPACK/);
    }
    expect(tf.getBackend()).toBe(info.name);
    expect(log.info).toHaveBeenCalledWith(expect.stringContaining(`tfjs backend: ${info.name}`));
    const product = tf.tidy(() =>
      tf
        .matMul(
          tf.tensor2d([
            [1, 2],
            [3, 4],
          ]),
          tf.tensor2d([
            [5, 6],
            [7, 8],
          ]),
        )
        .arraySync(),
    );
    expect(product).toEqual([
      [19, 22],
      [43, 50],
    ]);
  });

  it("finds the wasm binaries on disk", () => {
    expect(fs.existsSync(path.join(wasmBinaryDir(), "tfjs-backend-wasm-simd.wasm"))).toBe(true);
  });

  it("takes the first backend of the plan that loads, in order", async () => {
    const calls: string[] = [];
    const loader =
      (name: string, ok: boolean): BackendLoader =>
      async () => {
        calls.push(name);
        if (!ok) throw new Error(`${name} missing`);
        await tf.setBackend("cpu");
        return name;
      };
    const info = await selectBackend({
      request: "auto",
      log: quiet(),
      loaders: { tensorflow: loader("tensorflow", false), wasm: loader("wasm", true) },
    });
    expect(calls).toEqual(["tensorflow", "wasm"]);
    expect(info.skipped).toEqual([{ name: "tensorflow", reason: "tensorflow missing" }]);

    calls.length = 0;
    await selectBackend({ request: "auto", log: quiet(), loaders: { tensorflow: loader("tensorflow", true), wasm: loader("wasm", true) } });
    expect(calls).toEqual(["tensorflow"]);
  });

  it("falls back from webgpu to wasm with a message saying why", async () => {
    const log = quiet();
    const info = await selectBackend({ request: "webgpu", log, loaders: { webgpu: failing("no WebGPU adapter found") } });
    expect(info.name).toBe("wasm");
    expect(log.warn).toHaveBeenCalledWith(
      expect.stringMatching(/TESSERA_BACKEND=webgpu is unavailable; fell back to wasm: no WebGPU adapter found/),
    );
  });

  it("warns loudly when cpu is forced", async () => {
    const log = quiet();
    const info = await selectBackend({ request: "cpu", log });
    expect(info.name).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    expect(log.warn).toHaveBeenCalledWith(expect.stringMatching(/WARNING.*30x slower/));
  });

  it("fails with every reason when nothing loads", async () => {
    await expect(
      selectBackend({ request: "webgpu", log: quiet(), loaders: { webgpu: failing("no adapter"), wasm: failing("no binary") } }),
    ).rejects.toThrow(/no TensorFlow.js backend could be loaded.*webgpu: no adapter.*wasm: no binary/);
  });

  it("selects once per process and retries after a failure", async () => {
    const bad = initBackend({ request: "wasm", log: quiet(), loaders: { wasm: failing("boom") } });
    await expect(bad).rejects.toThrow(/boom/);
    const first = initBackend({ request: "wasm", log: quiet() });
    expect(initBackend()).toBe(first);
    expect((await first).name).toBe("wasm");
  });
});
