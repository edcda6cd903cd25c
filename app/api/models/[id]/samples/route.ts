import fs from "node:fs";
import path from "node:path";
import { jsonError, methodNotAllowed, route } from "@/lib/api";
import { getDb } from "@/lib/db/client";
import { findModelVersionPath } from "@/lib/db/versions";
import { isRecordId, shownId } from "@/lib/ids";
import { LAB_KINDS, labDir, type LabKind } from "@/lib/lab";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/**
 * GET /api/models/[id]/samples: the sample sheet (samples.png) the trainer left in the model's folder;
 * `?lab=vae|flow`: the one of that lab model (`lab/<kind>/samples.png`).
 */
export const GET = route(async (request: Request, { params }: { params: Promise<{ id: string }> }) => {
  const { id } = await params;
  const lab = new URL(request.url).searchParams.get("lab");
  if (lab !== null && !(LAB_KINDS as readonly string[]).includes(lab))
    return jsonError(400, `lab must be one of ${LAB_KINDS.join(", ")}, not ${shownId(lab)}`);
  const version = isRecordId(id) ? await findModelVersionPath(getDb(), id) : null;
  if (!version) return jsonError(404, `no model version with id ${shownId(id)}`);
  const folder = lab ? labDir(version.path, lab as LabKind) : version.path;
  const file = path.resolve(/*turbopackIgnore: true*/ process.cwd(), folder, "samples.png");
  if (!fs.existsSync(file)) return jsonError(404, `this model folder has no ${lab ? `lab/${lab}/` : ""}samples.png`);
  return new Response(fs.readFileSync(file), { headers: { "Content-Type": "image/png", "Cache-Control": "public, max-age=300" } });
});

const notAllowed = methodNotAllowed("GET");
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
