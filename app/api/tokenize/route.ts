import { z } from "zod";
import { jsonError, methodNotAllowed, route } from "@/lib/api";
import { publicMessage } from "@/lib/errors";
import { chooseModel } from "@/lib/generate/models";
import { firstIssue, ModelKey, PromptDraft } from "@/lib/generate/params";
import { generationService } from "@/lib/generate/service";
import { readJsonBody } from "@/lib/http/body";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

// The prompt as the Create form holds it while it is typed (the generation request's limit and checks), and the
// model it is for, as the generation request names it.
const Body = z.strictObject(
  {
    prompt: z
      .unknown()
      .refine((v) => v !== undefined, "prompt is required")
      .pipe(PromptDraft),
    model: ModelKey.optional(),
  },
  {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown field: ${issue.keys.join(", ")}`
        : issue.code === "invalid_type"
          ? "the body must be a JSON object {prompt, model?}"
          : undefined,
  },
);

/**
 * POST /api/tokenize {prompt, model?} → {tokens, maxTokens, truncated, unknownWords}: the chosen model's own
 * tokenizer (the active one's without `model`), so the Create page can show a live token count and warn about
 * words that model never saw.
 */
export const POST = route(async (request: Request) => {
  const raw = await readJsonBody(request);
  const parsed = Body.safeParse(raw);
  if (!parsed.success) return jsonError(400, firstIssue(parsed.error));
  const { db, registry } = await generationService();
  const choice = await chooseModel(db, parsed.data.model);
  if (!choice.ok) return jsonError(choice.status, choice.message);
  const model = choice.model;
  let lease;
  try {
    lease = await registry.acquire(model.id);
  } catch (err) {
    return jsonError(503, `the ${model.active ? "active " : ""}model ${model.name} could not be loaded: ${publicMessage(err)}`);
  }
  try {
    const max = lease.bundle.transformer.config.textLen;
    const e = lease.bundle.text.encode(parsed.data.prompt, max);
    return Response.json(
      { tokens: e.tokens, maxTokens: max, truncated: e.truncated, unknownWords: e.unknownWords },
      { headers: { "Cache-Control": "no-store" } },
    );
  } finally {
    lease.release();
  }
});

const notAllowed = methodNotAllowed("POST");
export { notAllowed as GET, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
