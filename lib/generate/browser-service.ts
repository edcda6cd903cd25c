// What the browser-generation routes call (issue 33): a model version's manifest for a page, and its hashed files.
import { GZIP_SUFFIX } from "./gzip-variant";
import type { BrowserManifest } from "../browser/manifest";
import { browserFilesFor, runtimeWasm, type StoredFile } from "./browser-files";
import { chooseModel } from "./models";
import { samplingDefaultsFor } from "./sampling-defaults";
import { generationService } from "./service";

export type Answer<T> = { ok: true; value: T } | { ok: false; status: number; message: string };

/** "active" (or nothing) asks for the active model; otherwise a version's id or name. */
async function filesOf(key: string | undefined) {
  const service = await generationService();
  const choice = await chooseModel(service.db, key === "active" ? undefined : key);
  if (!choice.ok) return choice;
  const model = choice.model;
  const lease = await service.registry.acquire(model.id);
  try {
    return { ok: true as const, model, files: browserFilesFor(lease.bundle, samplingDefaultsFor(model.path)) };
  } finally {
    lease.release();
  }
}

export async function browserManifest(key: string | undefined): Promise<Answer<BrowserManifest>> {
  const got = await filesOf(key);
  if (!got.ok) return got;
  const { model, files } = got;
  const base = `/api/models/${encodeURIComponent(model.id)}/browser`;
  return {
    ok: true,
    value: {
      ...files.manifest,
      model: { id: model.id, name: model.name },
      files: files.manifest.files.map(({ name, ...f }) => {
        const url = f.role === "runtime" ? `/api/browser-runtime/${name}` : `${base}/${name}`;
        return { ...f, url, gzipUrl: `${url}${GZIP_SUFFIX}` };
      }),
    },
  };
}

export async function browserFile(key: string, name: string): Promise<Answer<StoredFile>> {
  const got = await filesOf(key);
  if (!got.ok) return got;
  const file = got.files.files.get(name);
  return file
    ? { ok: true, value: file }
    : { ok: false, status: 404, message: `model ${got.model.name} has no browser file ${JSON.stringify(name.slice(0, 80))}` };
}

export function runtimeFile(name: string): Answer<StoredFile> {
  const wasm = runtimeWasm();
  return wasm.name === name
    ? { ok: true, value: wasm.file }
    : { ok: false, status: 404, message: `no runtime file ${JSON.stringify(name.slice(0, 80))}` };
}
