// Reading a JSON request body safely: only `application/json` (a form or text/plain post from another site is
// refused, so no web page can make its visitors' browsers queue jobs), and at most a small number of bytes,
// counted while the body streams in, so a huge body is cut off instead of being buffered and parsed.
import { HttpError } from "../api";

/** Bytes a JSON body may have: prompts are short, so 64 KiB is generous. */
export const JSON_BODY_LIMIT = 64 * 1024;

export async function readJsonBody(request: Request, limit = JSON_BODY_LIMIT): Promise<unknown> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new HttpError(415, "send the body as JSON with Content-Type: application/json");
  const tooLarge = () => new HttpError(413, `the body is larger than ${limit / 1024} KiB`);
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge();
  if (!request.body) throw new HttpError(400, "the request body must be JSON");
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
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new HttpError(400, "the request body is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "the request body must be JSON");
  }
}
