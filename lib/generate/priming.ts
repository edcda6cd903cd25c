// The request's half of image priming (POST /api/generations with `init` + `keepRows`): the source picture a job
// is stored with, made before anything is queued, so a refused request leaves no row and no file. A gallery image
// ({generationId, index}) is copied (so the job stands if that image is deleted later), an upload checked
// (./source-image.ts); both are fitted to the chosen model's image size. The worker encodes the picture with the
// model's image tokenizer (./prime-codes.ts): nothing here loads a model, only its manifests are read.
import { HttpError } from "../api";
import type { Db } from "../db/client";
import { ImageFileMissing } from "../db/image-store";
import { getImagePngAt } from "../db/images";
import type { Upload } from "../http/body";
import { imageShapeOf } from "./models";
import { UPLOAD_INIT, type InitSource } from "./params";
import { fit, sourceFromUpload } from "./source-image";

/**
 * The checked source picture of a request (a PNG at the model's image size), or undefined for a request that is
 * not primed. 400 for keepRows beyond the model's grid, an upload without init "upload" or the reverse; 404 for a
 * gallery image that is not there; the upload's own 413 / 415 / 400 (./source-image.ts).
 */
export async function sourceForRequest(
  db: Db,
  request: { init?: InitSource; keepRows?: number },
  upload: Upload | undefined,
  modelDir: string,
): Promise<Buffer | undefined> {
  const { init, keepRows } = request;
  if (init === undefined) {
    if (upload)
      throw new HttpError(400, `an image was sent, but init is not "${UPLOAD_INIT}": say what it is for (init "${UPLOAD_INIT}", keepRows)`);
    return undefined;
  }
  const { imageSize, grid } = imageShapeOf(modelDir);
  if (keepRows === undefined || keepRows >= grid)
    throw new HttpError(400, `keepRows must be a whole number 1–${grid - 1}: this model's images have ${grid} rows of codes`);
  if (init === UPLOAD_INIT) {
    if (!upload)
      throw new HttpError(
        400,
        `init "${UPLOAD_INIT}" needs the picture: send multipart/form-data with this JSON in a part named request and the file in a part named image`,
      );
    return sourceFromUpload(upload.bytes, imageSize, upload.type);
  }
  if (upload) throw new HttpError(400, "an image was sent with a gallery image as init: send one or the other");
  let stored: { png: Uint8Array } | null;
  try {
    stored = await getImagePngAt(db, init.generationId, init.index);
  } catch (err) {
    if (err instanceof ImageFileMissing) throw new HttpError(500, `the source image cannot be read: ${err.message}`);
    throw err;
  }
  if (!stored) throw new HttpError(404, `no image ${init.index} in generation ${init.generationId} to start from`);
  return fit(stored.png, imageSize);
}
