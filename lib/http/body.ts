// Reading a JSON request body safely: only `application/json` (a form or text/plain post from another site is
// refused, so no web page can make its visitors' browsers queue jobs), and at most a small number of bytes,
// counted while the body streams in, so a huge body is cut off instead of being buffered and parsed. A request
// that carries a picture (an image-primed generation) may instead be multipart/form-data: the same JSON in one
// part, the file in another, counted the same way up to the upload's limit.
import { HttpError } from "../api";

/** Bytes a JSON body may have: prompts are short, so 64 KiB is generous. */
export const JSON_BODY_LIMIT = 64 * 1024;

export async function readJsonBody(request: Request, limit = JSON_BODY_LIMIT): Promise<unknown> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new HttpError(415, "send the body as JSON with Content-Type: application/json");
  const declared = request.headers.get("content-length");
  if (!request.body && !(declared !== null && Number(declared) > limit)) throw new HttpError(400, "the request body must be JSON");
  return parseJson(await readBytes(request, limit, `the body is larger than ${limit / 1024} KiB`));
}

/** The body's bytes, at most `limit` of them, counted while they arrive (a declared larger length is refused at once). */
export async function readBytes(request: Request, limit: number, tooLargeMessage: string): Promise<Buffer> {
  const tooLarge = () => new HttpError(413, tooLargeMessage);
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge();
  if (!request.body) throw new HttpError(400, "the request has no body");
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, "the request body could not be read");
  }
  return Buffer.concat(chunks);
}

function parseJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "the request body is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "the request body must be JSON");
  }
}

/** A file sent in a multipart body. */
export interface Upload {
  bytes: Uint8Array;
  /** Its declared Content-Type (anything: the bytes decide what it is). */
  type: string;
}

/**
 * A JSON body, or (for a request that sends a picture) multipart/form-data holding the same JSON in a part named
 * `request` and the file in a part named `image`, at most `uploadLimit` bytes of it. The body is counted while it
 * arrives, up to the upload and a JSON body together; the file's own limit and format are its reader's to check.
 * A cross-site multipart post (a form on another page) is refused before this by the server's guard
 * (lib/http/guard.ts), as JSON is refused to forms by its content type.
 */
export async function readJsonOrUpload(request: Request, uploadLimit: number): Promise<{ body: unknown; upload?: Upload }> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data\s*;/i.test(type)) return { body: await readJsonBody(request) };
  const bytes = await readBytes(request, uploadLimit + JSON_BODY_LIMIT, `the upload is larger than ${uploadLimit / 1024 / 1024} MB`);
  let form: FormData;
  try {
    form = await new Response(new Uint8Array(bytes), { headers: { "content-type": type } }).formData();
  } catch {
    throw new HttpError(400, "the multipart/form-data body could not be read");
  }
  const names = [...new Set(form.keys())];
  const unknown = names.filter((n) => n !== "request" && n !== "image");
  if (unknown.length)
    throw new HttpError(400, `unknown part${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")} (send request and image)`);
  if (form.getAll("request").length !== 1 || form.getAll("image").length > 1)
    throw new HttpError(400, "send one part named request (the JSON) and at most one named image (the picture)");
  const json = form.get("request")!;
  const jsonBytes = typeof json === "string" ? new TextEncoder().encode(json) : new Uint8Array(await json.arrayBuffer());
  if (jsonBytes.byteLength > JSON_BODY_LIMIT) throw new HttpError(413, `the request part is larger than ${JSON_BODY_LIMIT / 1024} KiB`);
  const image = form.get("image");
  if (typeof image === "string") throw new HttpError(400, "the image part must be a file");
  return {
    body: parseJson(jsonBytes),
    upload: image ? { bytes: new Uint8Array(await image.arrayBuffer()), type: image.type } : undefined,
  };
}
