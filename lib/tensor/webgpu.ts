// The WebGPU backend in Node: Dawn's bindings (the `webgpu` package) stand in for the browser's navigator.gpu.
// Only loaded when TESSERA_BACKEND=webgpu, so a machine without the addon or a GPU never pays for it.
import * as tf from "@tensorflow/tfjs";

/** The few parts of the WebGPU API used here (the package's full types need @webgpu/types). */
interface Adapter {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  limits: Record<string, number>;
  features: Set<string>;
  requestDevice(descriptor?: object): Promise<unknown>;
}
interface Gpu {
  requestAdapter(options?: object): Promise<Adapter | null>;
}

/**
 * Dawn instance toggles to try, in order. The first is the native route (Vulkan on Linux, e.g. an NVIDIA GPU);
 * the second is Mesa's software OpenGL ES adapter, which Dawn accepts only at the "compatibility" feature level
 * (lavapipe's Vulkan lacks features Dawn requires), for machines with no GPU.
 */
const ATTEMPTS: { flags: string[]; request: object }[] = [
  { flags: [], request: { powerPreference: "high-performance" } },
  { flags: ["backend=opengles"], request: { powerPreference: "high-performance", featureLevel: "compatibility" } },
];

export async function loadWebgpu(): Promise<string> {
  const { create, globals } = (await import("webgpu")) as unknown as {
    create: (flags: string[]) => Gpu;
    globals: Record<string, unknown>;
  };
  // tfjs-backend-webgpu reads GPUBufferUsage & co. from the global scope, as in a browser.
  Object.assign(globalThis, globals);
  process.env.EGL_PLATFORM ??= "surfaceless";

  let adapter: Adapter | null = null;
  const tried: string[] = [];
  for (const attempt of ATTEMPTS) {
    const gpu = create(attempt.flags);
    adapter = await gpu.requestAdapter(attempt.request);
    tried.push(attempt.flags.join(",") || "default");
    if (adapter) {
      // WebGPUBackend refuses to start unless navigator.gpu exists; Node 20 has no navigator at all. Keeping the
      // instance reachable from a global also keeps Dawn from being collected while the device lives.
      const nav = ((globalThis as { navigator?: object }).navigator ?? {}) as { gpu?: Gpu };
      Object.defineProperty(nav, "gpu", { value: gpu, configurable: true });
      Object.defineProperty(globalThis, "navigator", { value: nav, configurable: true });
      break;
    }
  }
  if (!adapter) throw new Error(`no WebGPU adapter found (tried Dawn with ${tried.join(" and ")})`);

  const { WebGPUBackend } = await import("@tensorflow/tfjs-backend-webgpu");
  const found = adapter;
  const limits = found.limits;
  const device = await found.requestDevice({
    requiredFeatures: found.features.has("timestamp-query") ? ["timestamp-query"] : [],
    requiredLimits: {
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    },
  });
  // Replace any factory tfjs-backend-webgpu registered itself, so the backend uses the adapter chosen above.
  if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
  tf.registerBackend("webgpu", () => new WebGPUBackend(device as ConstructorParameters<typeof WebGPUBackend>[0], found.info as never));
  if (!(await tf.setBackend("webgpu"))) throw new Error("setBackend('webgpu') returned false");

  const info = found.info ?? {};
  const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(" ") || "unknown adapter";
  const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
  return `${name}; maxBufferSize ${mib(limits.maxBufferSize)}, maxStorageBufferBindingSize ${mib(limits.maxStorageBufferBindingSize)}`;
}
