import { z } from "zod";
import { jsonError } from "@/lib/api";
import { generationService } from "@/lib/generate/service";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

const Body = z.object({ prompt: z.string().max(1000, "the prompt is too long to tokenise") });

/**
 * POST /api/tokenize {prompt} → {tokens, maxTokens, truncated, unknownWords}: the active model's own tokenizer, so
 * the Create page can show a live token count and warn about words the model never saw.
 */
export async function POST(request: Request) {
  const parsed = Body.safeParse(await request.json().catch(() => null));
  if (!parsed.success) return jsonError(400, parsed.error.issues[0]?.message ?? "the body must be JSON {prompt}");
  const { registry } = await generationService();
  const lease = await registry.acquire().catch(() => null);
  if (!lease) return jsonError(503, "no model is active yet");
  try {
    const max = lease.bundle.transformer.config.textLen;
    const e = lease.bundle.text.encode(parsed.data.prompt, max);
    return Response.json({ tokens: e.tokens, maxTokens: max, truncated: e.truncated, unknownWords: e.unknownWords }, { headers: { "Cache-Control": "no-store" } });
  } finally {
    lease.release();
  }
}
