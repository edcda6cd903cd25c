// One VAE thread of the pool (./vae-threads.ts): its own tfjs backend and VAE cache (./vae-edit.ts), one request at
// a time. It reports its threadId and tensor count with each answer, so the tests can hold the work off the main
// thread and the memory flat; an HttpError (a picture that does not decode, 422) keeps its status.
import { parentPort, threadId } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { HttpError } from "../api";
import { publicMessage } from "../errors";
import { blendOfPngs, variationsOfPng } from "./vae-edit";
import type { FromVaeThread, ToVaeThread } from "./vae-threads";

const port = parentPort!;

port.on("message", ({ id, task }: ToVaeThread) => {
  const work =
    task.kind === "variations"
      ? variationsOfPng(task.dir, task.png, task.k, task.scale, task.seed)
      : blendOfPngs(task.dir, task.a, task.b, task.steps);
  work.then(
    (r) => port.postMessage({ id, result: { ...r, threadId, tensors: tf.memory().numTensors } } satisfies FromVaeThread),
    (err: unknown) =>
      port.postMessage({
        id,
        error: { status: err instanceof HttpError ? err.status : 500, message: publicMessage(err) },
      } satisfies FromVaeThread),
  );
});
