// The body of POST /api/generations/browser (issue 33), shared with the page that posts it: the very request the
// Create form would send to POST /api/generations (checked by the API's own schema), and the codes the browser
// sampled for it — never pixels. What depends on the model (the grid, the codebook) is checked by the server.
import { z } from "zod";
import { generationParamsFor, jsonObjectError, number, CANDIDATES_LIMIT } from "./params";

/** Codes a grid may hold at most, whatever the model (the server checks its model's exact grid). */
export const GRID_CODES_LIMIT = 4096;

const grid = z
  .array(number("a code", 0, 65535, true), { error: "codes must be an array of code grids, each an array of whole numbers" })
  .min(1, "a code grid is empty")
  .max(GRID_CODES_LIMIT, `a code grid has at most ${GRID_CODES_LIMIT} codes`);

export const BrowserPost = z
  .strictObject(
    {
      request: z.unknown().pipe(generationParamsFor(CANDIDATES_LIMIT)),
      codes: z
        .array(grid, { error: "codes must be an array of code grids" })
        .min(1, "codes is empty")
        .max(9, "codes holds at most 9 grids"),
    },
    { error: jsonObjectError("{request, codes}") },
  )
  .superRefine(({ request, codes }, ctx) => {
    const refuse = (message: string, path: string[] = ["request"]) => ctx.addIssue({ code: "custom", path, message });
    if (request.seed === undefined) refuse("request.seed is required: the seed the browser sampled with");
    if (request.init !== undefined || request.keepRows !== undefined)
      refuse("a browser run cannot be primed with an image (init, keepRows)");
    if (request.candidates !== undefined) refuse("a browser run is not reranked: leave candidates out");
    if (codes.length !== request.n) refuse(`codes holds ${codes.length} grids for n = ${request.n}`, ["codes"]);
  });
export type BrowserPost = z.infer<typeof BrowserPost>;
