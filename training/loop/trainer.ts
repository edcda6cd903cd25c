// The one training loop (as minGPT's trainer.py): it knows nothing of the model. A task (./task.ts) gives the
// parameters, the batches and the loss; an engine (./engine.ts) computes the gradient — ONNX Runtime over the
// task's native graph, or tfjs replicas on worker threads; the loop gives the rest — data order, AdamW on the flat
// parameters with warm-up + cosine LR, global-norm clipping, a step or wall-clock budget, validation, checkpoints
// (model + optimizer) with resume or warm start, Ctrl-C, a progress bar with ETA, a sheet hook and a JSONL log of
// the curve (<out>/log.jsonl).
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { IndexStream, WeightedIndexStream } from "../../lib/data/batches";
import { FlatAdamW, frozenRanges, globalNorm, paramLayout } from "../optim/flat-adamw";
import { learningRate } from "../optim/schedule";
import { Progress } from "../progress";
import { interruptible, restoreRun, saveRun } from "./run-folder";
import type { TrainerConfig } from "./config";
import { resolveEngine, resolveWorkers, TfjsEngine, type Engine, type EngineName } from "./engine";
import { NativeEngine, nativeLayout } from "./native-engine";

import type { StepContext, TaskDefinition, TrainTask } from "./task";

export interface TrainRun {
  outDir: string;
  /** sha256 of the dataset manifest (recorded in every checkpoint). */
  dataHash: string | null;
  /** How workers rebuild the task; null trains on the main thread only. */
  definition: TaskDefinition | null;
  /** tfjs backend name, for "auto" workers and the manifest. */
  backend: string;
  log?: (line: string) => void;
  /** Where the progress bar goes (tests pass a sink). */
  progressStream?: NodeJS.WriteStream;
  /**
   * Called after each checkpoint is saved (task.params hold its weights): e.g. train:gpt's --keep-every, which keeps
   * a servable copy of some checkpoints so that the eval, not the last step, picks the one to ship.
   */
  onCheckpoint?: (step: number, metrics: Record<string, number>) => Promise<void>;
}

export interface TrainResult {
  step: number;
  /** The last validation metrics. */
  metrics: Record<string, number>;
  /** Training throughput (after the first step, without checkpoints at the end): items/s and the task's unit/s. */
  itemsPerSecond: number;
  unitsPerSecond: number;
  /** tfjs replicas or ort intra-op threads. */
  workers: number;
  engine: EngineName;
}

export async function train(task: TrainTask, config: TrainerConfig, run: TrainRun): Promise<TrainResult> {
  const log = run.log ?? ((line: string) => console.log(line));
  const c = config;
  const layout = paramLayout(task.params.trainable());
  const optimizer = new FlatAdamW(layout, {
    beta1: c.beta1,
    beta2: c.beta2,
    epsilon: 1e-8,
    weightDecay: c.weightDecay,
    decays: (name) => task.decays(name),
    frozen: task.frozen ? (name) => task.frozen!(name) : undefined,
  });
  const frozen = frozenRanges(layout, task.frozen?.bind(task));
  const engineName = resolveEngine(c.engine, task);
  const workers = resolveWorkers(c.workers, run.backend, engineName);
  // Replicas rebuild the task from its definition; a run without one keeps every core in one session.
  const native = nativeLayout(workers, c.ortThreads, !!task.native?.splittable && !!run.definition, c.batchSize, layout.total);
  let engine: Engine | null = null;
  const interrupt = interruptible(log);
  try {
    const restored = restoreRun(run.outDir, task.params, optimizer, c, log, task.freshOnWarmStart);
    let step = restored.step;
    fs.mkdirSync(run.outDir, { recursive: true });
    engine =
      engineName === "ort"
        ? await NativeEngine.start(task, layout, native, c.batchSize, run.definition)
        : await TfjsEngine.start(task, layout, run.definition, workers);
    const e = engine;
    const where =
      engineName === "ort"
        ? `on ONNX Runtime, ${native.replicas > 1 ? `${native.replicas} replicas × ${native.threads} thread${native.threads > 1 ? "s" : ""}` : `${workers} thread${workers > 1 ? "s" : ""}`}`
        : `over ${workers} tfjs replica${workers > 1 ? "s" : ""} (${run.backend})`;
    log(
      `${task.kind}: ${task.params.countTrainable().toLocaleString()} parameters${frozen.length ? ` (${frozen.reduce((n, [a, b]) => n + b - a, 0).toLocaleString()} frozen)` : ""}, batch ${c.batchSize} ${where}, ${task.itemCount} training items`,
    );

    const sampler = task.sampleWeights
      ? new WeightedIndexStream(task.sampleWeights, c.batchSize, c.seed)
      : new IndexStream(task.itemCount, c.batchSize, c.seed);
    sampler.skip(step);
    const started = performance.now();
    const budgetS = c.minutes * 60;
    const elapsed = () => restored.elapsedBefore + (performance.now() - started) / 1000;
    const progressOf = () => Math.max(step / c.steps, budgetS > 0 ? elapsed() / budgetS : 0);
    const logFile = path.join(run.outDir, "log.jsonl");
    const append = (row: Record<string, unknown>) =>
      fs.appendFileSync(logFile, JSON.stringify({ ...row, time: new Date().toISOString() }) + "\n");
    const extra = () => ({
      trainer: c,
      hyper: task.hyper,
      engine: engineName,
      workers,
      ...(engineName === "ort" ? { ortReplicas: native.replicas, ortThreads: native.threads } : {}),
      backend: run.backend,
      warmStartedFrom: restored.warmStartedFrom,
    });
    let metrics: Record<string, number> = {};
    const validate = () => {
      e.sync();
      return task.validate();
    };
    const checkpoint = async () => {
      metrics = await validate();
      await saveRun(run.outDir, task.params, optimizer, {
        kind: task.kind,
        config: task.config,
        metrics,
        dataHash: run.dataHash,
        step,
        elapsedSeconds: elapsed(),
        extra: extra(),
      });
      append({ step, items: step * c.batchSize, ...metrics, checkpoint: true });
      if (task.sheet) await task.sheet(path.join(run.outDir, `sheet-${String(step).padStart(6, "0")}.png`));
      if (run.onCheckpoint) await run.onCheckpoint(step, metrics);
      log(
        `\nstep ${step}: ${Object.entries(metrics)
          .map(([k, v]) => `${k} ${v.toFixed(4)}`)
          .join(", ")} → ${path.join(run.outDir, "model")}`,
      );
    };

    const total = budgetS > 0 ? Math.round(budgetS) : c.steps;
    const bar = new Progress(task.kind, total, run.progressStream);
    const loopStart = performance.now();
    let items = 0;
    // Throughput is measured from the end of the first step: it pays one-off costs (kernel set-up, warm caches).
    let steadyStart = 0;
    let steadyItems = 0;
    // Per-phase milliseconds summed over the current log window: where a step's time goes.
    const phases = { shards: [] as number[], gradients: 0, optimizer: 0, afterStep: 0, publish: 0 };
    let lastSaved = step;
    while (!interrupt.stopped && step < c.steps && (budgetS <= 0 || elapsed() < budgetS)) {
      const lr = learningRate({ peak: c.lr, warmupSteps: c.warmup, floor: c.lrFloor }, step, progressOf());
      const ctx: Omit<StepContext, "replica"> = { step, progress: progressOf(), lr };
      const batch = task.plan(sampler.next(), step);
      const r = await e.gradients(batch, ctx);
      let t = performance.now();
      phases.gradients += r.timing.totalMs;
      r.timing.shardsMs.forEach((ms, i) => (phases.shards[i] = (phases.shards[i] ?? 0) + ms));
      for (const [from, to] of frozen) r.grads.fill(0, from, to);
      const norm = globalNorm(r.grads);
      if (!Number.isFinite(r.loss) || !Number.isFinite(norm))
        throw new Error(`loss became ${r.loss} (gradient norm ${norm}) at step ${step}; lower --lr`);
      // Clipping's factor is applied inside the update (the gradient itself is left as the engine wrote it).
      optimizer.apply(e.theta, r.grads, lr, c.clip > 0 && norm > c.clip ? c.clip / norm : 1);
      e.commit();
      phases.optimizer += performance.now() - t;
      t = performance.now();
      try {
        if (task.afterStep) {
          e.sync();
          await task.afterStep(r.gathered, { ...ctx, replica: 0 });
          e.reload();
        }
      } finally {
        tf.dispose(Object.values(r.gathered));
      }
      phases.afterStep += performance.now() - t;
      t = performance.now();
      await e.publish();
      phases.publish += performance.now() - t;
      step++;
      items += c.batchSize;
      if (steadyStart === 0) steadyStart = performance.now();
      else steadyItems += c.batchSize;
      const rate = items / ((performance.now() - loopStart) / 1000);
      const unitRate = rate * task.throughput.perItem;
      const logs = Object.entries(r.logs)
        .map(([k, v]) => `${k} ${v.toFixed(3)}`)
        .join(" ");
      bar.update(
        budgetS > 0 ? Math.min(total, Math.round(elapsed())) : step,
        `step ${step} loss ${r.loss.toFixed(4)} ${logs} |g| ${norm.toFixed(2)} lr ${lr.toExponential(1)} ${unitRate.toFixed(0)} ${task.throughput.unit}/s`,
      );
      if (step % c.logEvery === 0) {
        const per = (ms: number) => Math.round(ms / c.logEvery);
        const stepMs = {
          shards: phases.shards.map(per),
          gradients: per(phases.gradients),
          optimizer: per(phases.optimizer),
          afterStep: per(phases.afterStep),
          publish: per(phases.publish),
        };
        append({
          step,
          items: step * c.batchSize,
          lr,
          loss: r.loss,
          ...r.logs,
          gradNorm: norm,
          [`${task.throughput.unit}PerSecond`]: Math.round(unitRate),
          elapsedSeconds: Math.round(elapsed()),
          stepMs,
        });
        Object.assign(phases, { shards: [], gradients: 0, optimizer: 0, afterStep: 0, publish: 0 });
      }
      const last = interrupt.stopped || step >= c.steps || (budgetS > 0 && elapsed() >= budgetS);
      if (last) break; // the final checkpoint below validates
      if (step % c.checkpointEvery === 0) {
        await checkpoint();
        lastSaved = step;
      } else if (step % c.valEvery === 0) {
        const val = await validate();
        append({ step, items: step * c.batchSize, ...val });
        log(
          `\nstep ${step}: ${Object.entries(val)
            .map(([k, v]) => `${k} ${v.toFixed(4)}`)
            .join(", ")}`,
        );
      }
    }
    bar.finish(`step ${step}`);
    const seconds = steadyItems > 0 ? (performance.now() - steadyStart) / 1000 : (performance.now() - loopStart) / 1000;
    const measured = steadyItems > 0 ? steadyItems : items;
    if (step !== lastSaved || !fs.existsSync(path.join(run.outDir, "model", "manifest.json"))) await checkpoint();
    else if (!Object.keys(metrics).length) metrics = await validate();
    e.sync(); // the caller exports task.params
    return {
      step,
      metrics,
      itemsPerSecond: measured / seconds,
      unitsPerSecond: (measured * task.throughput.perItem) / seconds,
      workers,
      engine: engineName,
    };
  } finally {
    interrupt.release();
    optimizer.dispose();
    await engine?.close();
  }
}
