// A worker thread for the all-cores matMul ceiling (training.ts): its own wasm backend; says it is ready, waits for
// the common start signal, then runs a timed 1024³ matMul loop and reports its GFLOP/s.
import { parentPort, workerData } from "node:worker_threads";
import { initBackend } from "../../lib/tensor/backend";
import { timedMatmulGflops } from "./models";

const d = workerData as { seconds: number; go: Int32Array };
await initBackend({ log: { info() {}, warn() {} } });
parentPort!.postMessage("ready");
Atomics.wait(d.go, 0, 0);
parentPort!.postMessage(await timedMatmulGflops(d.seconds));
