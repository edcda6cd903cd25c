// Chooses the TensorFlow.js backend once per process, for the server, the trainers and the tests alike.
//
// Order (fastest first): `tensorflow` (the optional @tensorflow/tfjs-node-gpu / -node addons, which cannot be
// installed in every world, so they are tried and skipped when absent) → `webgpu` (Dawn through the `webgpu`
// package; only when TESSERA_BACKEND asks for it, until it is proven faster than wasm here) → `wasm` (XNNPACK,
// SIMD; the default). The pure-JS `cpu` backend is ~30× slower than wasm and is used only when forced.
import { createRequire } from "node:module";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";

export const BACKEND_NAMES = ["tensorflow", "webgpu", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

const BackendRequest = z.enum(["auto", ...BACKEND_NAMES], {
  error: (issue) => `TESSERA_BACKEND must be one of auto, ${BACKEND_NAMES.join(", ")}; got "${String(issue.input)}"`,
});
export type BackendRequest = z.infer<typeof BackendRequest>;

export interface BackendInfo {
  /** The backend tf.getBackend() now returns. */
  name: BackendName;
  requested: BackendRequest;
  /** One line on what runs the maths, e.g. the GPU adapter's name or the wasm build. */
  detail: string;
  /** Backends tried before this one and why each was passed over. */
  skipped: { name: BackendName; reason: string }[];
  initMs: number;
}

/** Sets up one backend and makes it current; resolves to a detail line, or throws why it is unavailable. */
export type BackendLoader = () => Promise<string>;

/** Reads TESSERA_BACKEND (unset or empty = auto); an unknown value is an error naming the accepted ones. */
export function parseBackendRequest(raw: string | undefined): BackendRequest {
  const parsed = BackendRequest.safeParse(raw?.trim() ? raw.trim().toLowerCase() : "auto");
  if (!parsed.success) throw new Error(parsed.error.issues[0].message);
  return parsed.data;
}

/** The backends to try, in order, for a request. Forced GPU/native backends fall back to wasm, never to cpu. */
export function backendPlan(request: BackendRequest): BackendName[] {
  switch (request) {
    case "auto":
      return ["tensorflow", "wasm"];
    case "tensorflow":
      return ["tensorflow", "wasm"];
    case "webgpu":
      return ["webgpu", "wasm"];
    case "wasm":
      return ["wasm"];
    case "cpu":
      return ["cpu"];
  }
}

/** Resolves packages from the project root, so the paths hold under Next's bundler as well as under tsx. */
const projectRequire = createRequire(path.join(process.cwd(), "package.json"));

/**
 * Folder holding tfjs-backend-wasm's .wasm binaries, read from node_modules (never fetched); TESSERA_WASM_DIR
 * overrides it for a bundled build that carries the binaries beside itself (the GPU bundle).
 */
export function wasmBinaryDir(): string {
  const override = process.env.TESSERA_WASM_DIR;
  if (override) return path.resolve(override) + path.sep;
  return path.dirname(projectRequire.resolve("@tensorflow/tfjs-backend-wasm")) + path.sep;
}

async function loadTensorflow(): Promise<string> {
  const errors: string[] = [];
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      // Required at run time from node_modules: they are optional dependencies that are usually absent.
      projectRequire(pkg);
      if (!(await tf.setBackend("tensorflow"))) throw new Error("setBackend('tensorflow') returned false");
      return `${pkg} (libtensorflow)`;
    } catch (err) {
      errors.push(`${pkg}: ${firstLine(err)}`);
    }
  }
  throw new Error(`not installed or not loadable (${errors.join("; ")})`);
}

async function loadWasm(): Promise<string> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  // Under Next's bundler the default lookup points at a path that does not exist: name the folder explicitly.
  wasm.setWasmPaths(wasmBinaryDir());
  if (!(await tf.setBackend("wasm"))) throw new Error("setBackend('wasm') returned false");
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  return `XNNPACK ${simd ? "SIMD" : "no SIMD"}, ${wasm.getThreadsCount()} thread(s)`;
}

async function loadCpu(): Promise<string> {
  if (!(await tf.setBackend("cpu"))) throw new Error("setBackend('cpu') returned false");
  return "pure JavaScript";
}

export const defaultLoaders: Record<BackendName, BackendLoader> = {
  tensorflow: loadTensorflow,
  webgpu: async () => (await import("./webgpu")).loadWebgpu(),
  wasm: loadWasm,
  cpu: loadCpu,
};

export interface InitOptions {
  /** Defaults to process.env.TESSERA_BACKEND. */
  request?: string;
  loaders?: Partial<Record<BackendName, BackendLoader>>;
  log?: Pick<Console, "info" | "warn">;
}

/**
 * Tries the plan's backends in order and makes the first that loads current. Logs its choice (and, for `cpu`,
 * a loud warning). Throws only when nothing in the plan loads.
 */
export async function selectBackend(options: InitOptions = {}): Promise<BackendInfo> {
  const started = performance.now();
  const requested = parseBackendRequest(options.request ?? process.env.TESSERA_BACKEND);
  const loaders = { ...defaultLoaders, ...options.loaders };
  const log = options.log ?? console;
  const skipped: BackendInfo["skipped"] = [];
  for (const name of backendPlan(requested)) {
    try {
      const detail = await loaders[name]();
      const info: BackendInfo = { name, requested, detail, skipped, initMs: performance.now() - started };
      if (name === "cpu") {
        log.warn(
          "[tessera] WARNING: TESSERA_BACKEND=cpu selects the pure-JavaScript backend, about 30x slower than wasm. " +
            "Use it only to check numerics; unset TESSERA_BACKEND for the fast default.",
        );
      }
      if (requested !== "auto" && requested !== name) {
        log.warn(`[tessera] TESSERA_BACKEND=${requested} is unavailable; fell back to ${name}: ${skipped.at(-1)?.reason}`);
      }
      log.info(`[tessera] tfjs backend: ${name} (${detail})${describeSkipped(skipped)}`);
      return info;
    } catch (err) {
      skipped.push({ name, reason: firstLine(err) });
    }
  }
  throw new Error(`[tessera] no TensorFlow.js backend could be loaded:${describeSkipped(skipped)}`);
}

// Kept on globalThis: Next bundles instrumentation, pages and route handlers separately, each with its own copy of
// this module, while tfjs (an external package) and its backend are one per process.
const state = globalThis as unknown as { tesseraBackend?: Promise<BackendInfo> };

/** The process-wide backend: selected on first call, the same promise afterwards. A failed selection is retried. */
export function initBackend(options?: InitOptions): Promise<BackendInfo> {
  state.tesseraBackend ??= selectBackend(options).catch((err: unknown) => {
    state.tesseraBackend = undefined;
    throw err;
  });
  return state.tesseraBackend;
}

/** The backend chosen so far, if selection has finished successfully. */
export async function backendIfReady(): Promise<BackendInfo | undefined> {
  return state.tesseraBackend?.catch(() => undefined);
}

function describeSkipped(skipped: BackendInfo["skipped"]): string {
  return skipped.length ? `; skipped ${skipped.map((s) => `${s.name}: ${s.reason}`).join("; ")}` : "";
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0];
}
