import { HttpError, jsonError, methodNotAllowed, route } from "@/lib/api";
import { clientIdFrom } from "@/lib/client-id";
import { candidateSettings } from "@/lib/generate/candidates";
import { folderHasClip } from "@/lib/generate/model-bundle";
import { chooseModel } from "@/lib/generate/models";
import { firstIssue, generationParamsFor, withCandidates, withSamplingDefaults } from "@/lib/generate/params";
import { samplingDefaultsFor } from "@/lib/generate/sampling-defaults";
import { enqueue, QueueFullError } from "@/lib/generate/queue";
import { generationService } from "@/lib/generate/service";
import { sourceForRequest } from "@/lib/generate/priming";
import { UPLOAD_MAX_BYTES } from "@/lib/generate/source-image";
import { readJsonOrUpload } from "@/lib/http/body";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/**
 * POST /api/generations {prompt, n?, guidance?, temperature?, topK?, seed?, candidates?, model?, init?, keepRows?}
 * → 202 {id, seed, candidates, rerank, source?}: `model` (a version's id or name; left out, the active one) is the
 * job's model, whose sampling defaults fill what the request leaves out; `rerank` false when it has no CLIP (then n
 * images are sampled, whatever `candidates` says). `init` + `keepRows` prime every image with the top rows of a
 * gallery image or of an upload (multipart/form-data: this JSON in part `request`, the file in part `image`);
 * `source` is then the address of the picture as the model sees it.
 */
export const POST = route(async (request: Request) => {
  const { body, upload } = await readJsonOrUpload(request, UPLOAD_MAX_BYTES);
  const settings = candidateSettings();
  const parsed = generationParamsFor(settings.max).safeParse(body);
  if (!parsed.success) return jsonError(400, firstIssue(parsed.error));
  const { model: key, ...asked } = parsed.data;
  const service = await generationService();
  const choice = await chooseModel(service.db, key);
  if (!choice.ok) return jsonError(choice.status, choice.message);
  const model = choice.model;
  const broken = service.registry.loadErrorOf(model.id);
  if (broken) return jsonError(503, `the ${model.active ? "active " : ""}model ${model.name} could not be loaded: ${broken.message}`);
  // Before anything is queued: a refused source leaves nothing behind.
  const source = await sourceForRequest(service.db, asked, upload, model.path);
  const rerank = folderHasClip(model.path);
  const sampling = withSamplingDefaults(asked, samplingDefaultsFor(model.path));
  // Without a CLIP, candidates are ignored: the job records none, so it never claims a ranking it did not do.
  const { candidates: _ignored, ...unranked } = sampling;
  const ranked = rerank ? withCandidates(sampling, settings) : null;
  const params = ranked ?? unranked;
  try {
    const job = await enqueue(service.db, params, {
      limit: service.queueLimit,
      perClientLimit: service.queueLimitPerClient,
      clientId: clientIdFrom(request.headers),
      modelVersionId: model.id,
      concurrency: service.concurrency,
      source,
    });
    service.worker.notify();
    return Response.json(
      { ...job, candidates: ranked?.candidates ?? params.n, rerank, ...(source ? { source: `/api/generations/${job.id}/source` } : {}) },
      { status: 202, headers: { Location: `/api/generations/${job.id}` } },
    );
  } catch (err) {
    if (err instanceof QueueFullError) throw new HttpError(429, err.message, { "Retry-After": String(err.retryAfterS) });
    throw err;
  }
});

const notAllowed = methodNotAllowed("POST");
export { notAllowed as GET, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
