import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./lib/tensor/backend";
import { Transformer } from "./lib/model/transformer";
import { sampleImageCodes } from "./lib/model/sample";
import { DEFAULT_TRANSFORMER_CONFIG } from "./lib/model/transformer-config";
await initBackend({ log: { info() {}, warn() {} } });
const m = new Transformer(DEFAULT_TRANSFORMER_CONFIG, 1);
const p = [5, 6, ...Array(22).fill(0)], nul = [2, ...Array(23).fill(0)];
for (const n of [1, 8]) { await sampleImageCodes(m, p, nul, { n, guidance: 1, temperature: 1, seed: 1 }); const t = performance.now(); await sampleImageCodes(m, p, nul, { n, guidance: 1, temperature: 1, seed: 2 }); console.log(`b${n}`, ((n * 64) / ((performance.now() - t) / 1000)).toFixed(0), "tok/s"); }
