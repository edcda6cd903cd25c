// Next.js calls register() once when the server boots: choose the tensor backend then, so its choice is logged
// at start-up and the first request does not pay for loading the wasm binaries.
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { initBackend } = await import("./lib/tensor/backend");
  await initBackend().catch((err: unknown) => console.error(`[tessera] ${(err as Error).message}`));
}
