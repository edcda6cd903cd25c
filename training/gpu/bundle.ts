// `npm run gpu:bundle [-- --out gpu-bundle]`: a self-contained folder for the lent GPU machine, which has no
// Node.js and no network: this machine's Node binary (xz), the training code bundled by esbuild with tfjs, the
// Dawn WebGPU addon, tfjs-wasm's binaries, the emoji shards and pre-tokenised transformer data, the Vulkan/EGL
// loader packages, and run.sh. Needs `npm run data` and a trained image tokenizer + text tokenizer first.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { build } from "esbuild";
import { z } from "zod";
import { captionsFor, readCaptions, readManifest } from "../../lib/data/manifest";
import { loadTextTokenizer, tokeniseCaptions } from "../../lib/text/tokenizer";
import { parseFlags, runMain } from "../cli";
import { codesKey } from "../gpt/codes";

const Flags = z.object({
  out: z.string().default("gpu-bundle"),
  data: z.string().default(path.join("data", "datasets", "emoji")),
  imageTokenizer: z.string().default(path.join("models", "image-tokenizer")),
  textTokenizer: z.string().default(path.join("models", "default")),
  textLen: z.coerce.number().int().min(2).default(24),
  limitMiB: z.coerce.number().positive().default(60),
});

const xz = (src: string, dst: string) => fs.writeFileSync(dst, execFileSync("xz", ["-6", "-T2", "-c", src], { maxBuffer: 1 << 30 }));

const RUN_SH = `#!/bin/sh
# Runs Tessera's GPU training from this folder. Usage: sh run.sh --task vq|gpt|bench [--minutes M] [--large]
# Writes checkpoints and throughput-<task>.json to $OUT (or ./out). TESSERA_BACKEND defaults to webgpu.
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"
[ -x bin/node ] || { mkdir -p bin; xz -dc node.xz > bin/node; chmod +x bin/node; }
DAWN=node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$DAWN" ] || xz -dk "$DAWN.xz"
for f in data/emoji/*.xz data/gpt/*.xz; do [ -f "$f" ] && xz -d "$f"; done
# Vulkan and EGL loaders for the NVIDIA driver (the machine ships the driver, not always the loaders).
if [ -z "$TESSERA_SKIP_GL" ] && ls gl/*.deb >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then for f in gl/*.deb; do dpkg -x "$f" /; done; ldconfig || true; fi
[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ] && export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
export TESSERA_BACKEND=\${TESSERA_BACKEND:-webgpu} TESSERA_WASM_DIR="$HERE/wasm"
exec bin/node app.mjs --data "$HERE/data" --out "\${OUT:-$HERE/out}" "$@"
`;

runMain("gpu:bundle", async () => {
  const f = parseFlags(
    process.argv.slice(2),
    Flags,
    "usage: npm run gpu:bundle -- [--out DIR] [--data DIR] [--image-tokenizer DIR] [--text-tokenizer DIR]",
  );
  const out = f.out;
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(path.join(out, "data", "emoji"), { recursive: true });

  await build({
    entryPoints: [path.join("training", "gpu", "entry.ts")],
    outfile: path.join(out, "app.mjs"),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Native or unused-at-train-time packages stay out; `webgpu` ships beside the bundle with its addon.
    external: [
      "webgpu",
      "@tensorflow/tfjs-node",
      "@tensorflow/tfjs-node-gpu",
      "sharp",
      "@huggingface/transformers",
      "better-sqlite3",
      "pg",
    ],
    // CommonJS globals for bundled CJS code (tfjs-wasm's Emscripten glue reads __dirname).
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; import { dirname as __dn } from 'node:path'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);",
    },
    logLevel: "warning",
  });

  const wasmSrc = path.join("node_modules", "@tensorflow", "tfjs-backend-wasm", "dist");
  fs.mkdirSync(path.join(out, "wasm"));
  for (const w of fs.readdirSync(wasmSrc).filter((n) => n.endsWith(".wasm")))
    fs.copyFileSync(path.join(wasmSrc, w), path.join(out, "wasm", w));

  const webgpu = path.join(out, "node_modules", "webgpu");
  fs.mkdirSync(path.join(webgpu, "dist", "linux-x64"), { recursive: true });
  for (const file of ["index.js", "package.json"]) fs.copyFileSync(path.join("node_modules", "webgpu", file), path.join(webgpu, file));
  xz(path.join("node_modules", "webgpu", "dist", "linux-x64", "dawn.node"), path.join(webgpu, "dist", "linux-x64", "dawn.node.xz"));
  xz(process.execPath, path.join(out, "node.xz"));

  // Image-tokenizer data: the 32×32 train and val shards.
  const manifest = readManifest(f.data);
  fs.copyFileSync(path.join(f.data, "manifest.json"), path.join(out, "data", "emoji", "manifest.json"));
  for (const s of manifest.shards.filter((s) => s.size === 32 && s.split !== "test"))
    xz(path.join(f.data, s.file), path.join(out, "data", "emoji", `${s.file}.xz`));

  // Transformer data: captions tokenised now, codes from the cache `train:gpt` filled.
  const gptDir = path.join(out, "data", "gpt");
  fs.mkdirSync(gptDir);
  const tok = await loadTextTokenizer(f.textTokenizer);
  const key = codesKey(f.imageTokenizer, f.data);
  const records = readCaptions(f.data);
  const counts: Record<string, number> = {};
  for (const split of ["train", "val"] as const) {
    const caps = captionsFor(records, split);
    counts[split] = caps.length;
    const { ids } = tokeniseCaptions(
      tok,
      caps.map((c) => c.caption),
      f.textLen,
    );
    fs.writeFileSync(path.join(gptDir, `${split}.text.i32`), Buffer.from(ids.buffer));
    const codes = path.join("data", "codes", key, `${split}.u16`);
    if (!fs.existsSync(codes)) throw new Error(`no cached image codes ${codes}: run npm run train:gpt (it encodes them) first`);
    fs.copyFileSync(codes, path.join(gptDir, `${split}.codes.u16`));
  }
  const vq = JSON.parse(fs.readFileSync(path.join(f.imageTokenizer, "manifest.json"), "utf8")).config;
  fs.writeFileSync(
    path.join(gptDir, "meta.json"),
    JSON.stringify({
      config: {
        textVocab: tok.vocabSize,
        textLen: f.textLen,
        padId: tok.padId,
        imageVocab: vq.codebookSize,
        imageGrid: vq.imageSize / vq.downsample,
      },
      nullText: tok.encodeNull(f.textLen),
      counts,
    }),
  );
  for (const file of fs.readdirSync(gptDir).filter((n) => !n.endsWith(".json"))) {
    xz(path.join(gptDir, file), path.join(gptDir, `${file}.xz`));
    fs.rmSync(path.join(gptDir, file));
  }

  // Loader packages for the device (as its README says), fetched here where apt works; optional.
  fs.mkdirSync(path.join(out, "gl"));
  try {
    execFileSync("apt-get", ["download", "libvulkan1", "libegl1", "libglvnd0", "libopengl0", "libgl1", "libglx0", "libgles2"], {
      cwd: path.join(out, "gl"),
      stdio: "ignore",
    });
  } catch {
    console.warn("could not download the Vulkan/EGL loader packages (apt-get download); carry them separately if the device lacks them");
  }

  fs.writeFileSync(path.join(out, "run.sh"), RUN_SH, { mode: 0o755 });
  const size = Number(execFileSync("du", ["-sb", out]).toString().split("\t")[0]);
  console.log(`${out}: ${(size / 2 ** 20).toFixed(1)} MiB`);
  if (size > f.limitMiB * 2 ** 20) throw new Error(`the bundle is ${(size / 2 ** 20).toFixed(1)} MiB, over the ${f.limitMiB} MiB limit`);
});
