// What reranking the server offers right now: its candidate settings (CANDIDATES_DEFAULT, CANDIDATES_MAX) and
// whether the active model carries a CLIP — for the API's schema and response, and for the Create form.
import { findActiveModelVersion } from "../db/versions";
import { serverEnv } from "../env";
import { folderHasClip } from "./model-bundle";
import type { CandidateSettings, RerankOffer } from "./params";
import { generationService } from "./service";

export function candidateSettings(): CandidateSettings {
  const env = serverEnv();
  return { default: env.CANDIDATES_DEFAULT, max: env.CANDIDATES_MAX };
}

/** The offer for a model folder. */
export function rerankOfferFor(dir: string | null): RerankOffer {
  return { ...candidateSettings(), rerank: dir !== null && folderHasClip(dir) };
}

/** The offer of the active model (reranking off when none is active). */
export async function activeRerankOffer(): Promise<RerankOffer> {
  const active = await findActiveModelVersion((await generationService()).db);
  return rerankOfferFor(active?.path ?? null);
}
