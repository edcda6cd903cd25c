// What reranking the server offers right now: its candidate settings (CANDIDATES_DEFAULT, CANDIDATES_MAX) and
// whether a model folder carries a CLIP — for the API's schema and response, and for the Create form (per model).
import { serverEnv } from "../env";
import { folderHasClip } from "./model-bundle";
import type { CandidateSettings, RerankOffer } from "./params";

export function candidateSettings(): CandidateSettings {
  const env = serverEnv();
  return { default: env.CANDIDATES_DEFAULT, max: env.CANDIDATES_MAX };
}

/** The offer for a model folder. */
export function rerankOfferFor(dir: string | null): RerankOffer {
  return { ...candidateSettings(), rerank: dir !== null && folderHasClip(dir) };
}
