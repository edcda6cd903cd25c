// Checks made by the server entry (scripts/server.ts) before Next sees a request, for failures that happen inside
// Next's own router or server-action handler, before any project code could answer them: a path with a malformed
// percent-escape (Next answers 500 text/plain), and server-action posts that are cross-site, too large or not a
// form (Next answers 500). Each becomes a 4xx in the JSON error shape, or the 400 page for page requests.

/** Bytes a server-action body may have: the forms here post an id or a token. */
export const ACTION_BODY_LIMIT = 64 * 1024;

export interface Rejection {
  status: number;
  message: string;
}

export interface RequestHead {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** The scheme this site is served on for the request (TLS, or X-Forwarded-Proto from a trusted proxy). */
  proto: "http" | "https";
}

const header = (h: RequestHead["headers"], name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Every path segment must decode to text without control characters (ids, page names: never binary). */
export function checkPath(url: string): Rejection | null {
  const path = url.split(/[?#]/, 1)[0];
  for (const segment of path.split("/")) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return { status: 400, message: "the address has a malformed percent-escape" };
    }
    if (/[\u0000-\u001f\u007f]/.test(decoded)) return { status: 400, message: "the address contains control characters" };
  }
  return null;
}

/**
 * Whether Next may treat the request as a server action: any POST to a page (the no-JavaScript form path posts a
 * multipart body that names the action inside it, without a Next-Action header), or any request with that header.
 */
export function isActionCandidate(req: RequestHead): boolean {
  if (header(req.headers, "next-action") !== undefined) return true;
  const path = req.url.split(/[?#]/, 1)[0];
  return (
    req.method !== "GET" && req.method !== "HEAD" && req.method !== "OPTIONS" && !path.startsWith("/api/") && !path.startsWith("/_next/")
  );
}

/** Whether an Origin header names this site: `proto://host` (URL parsing drops a default port and lowercases). */
function sameOrigin(origin: string, proto: RequestHead["proto"], host: string | undefined): boolean {
  if (!host) return false;
  try {
    return new URL(origin).origin === new URL(`${proto}://${host}`).origin;
  } catch {
    // "null" (sandboxed frames, file: pages) or garbage: not this site.
    return false;
  }
}

/** Server actions: same origin only, a form body of a known size, small, of a type Next can decode. */
export function checkServerAction(req: RequestHead): Rejection | null {
  if (!isActionCandidate(req)) return null;
  const origin = header(req.headers, "origin");
  const host = header(req.headers, "x-forwarded-host") ?? header(req.headers, "host");
  // An origin is scheme, host and port: https://host and http://host are different sites (a page on the plain-HTTP
  // one can be injected by anyone on the network path), so the whole origin must be this site's.
  if (origin !== undefined && !sameOrigin(origin, req.proto, host)) return { status: 403, message: "cross-site form posts are refused" };
  const length = header(req.headers, "content-length");
  if (length === undefined || !/^\d+$/.test(length)) return { status: 411, message: "a form post needs a Content-Length" };
  if (Number(length) > ACTION_BODY_LIMIT) return { status: 413, message: `the form is larger than ${ACTION_BODY_LIMIT / 1024} KiB` };
  const type = (header(req.headers, "content-type") ?? "").toLowerCase();
  const multipart = /^multipart\/form-data;\s*boundary=("?)[0-9a-z'()+_,\-./:=? ]{1,70}\1\s*$/i.test(type);
  // Next's client posts action arguments as text/plain JSON, the no-JS form path as multipart or urlencoded.
  if (!multipart && !/^(application\/x-www-form-urlencoded|text\/plain)(;|$)/.test(type)) {
    return { status: 415, message: "a form post must be multipart/form-data, application/x-www-form-urlencoded or text/plain" };
  }
  return null;
}

/**
 * The API takes JSON, which no cross-site form can send; the one exception, a picture posted as multipart/form-data
 * (POST /api/generations with an upload), is a type any page's form can post. So a form-typed post to the API
 * that comes from another site (its Origin names another scheme, host or port) is refused here; without an Origin
 * (curl, scripts) it goes on, as browsers always send one with a POST.
 */
export function checkApiForm(req: RequestHead): Rejection | null {
  const path = req.url.split(/[?#]/, 1)[0];
  if (req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS" || !path.startsWith("/api/")) return null;
  const type = (header(req.headers, "content-type") ?? "").toLowerCase();
  if (!/^(multipart\/form-data|application\/x-www-form-urlencoded|text\/plain)(;|$)/.test(type.trim())) return null;
  const origin = header(req.headers, "origin");
  const host = header(req.headers, "x-forwarded-host") ?? header(req.headers, "host");
  if (origin !== undefined && !sameOrigin(origin, req.proto, host)) return { status: 403, message: "cross-site form posts are refused" };
  return null;
}

export function checkRequest(req: RequestHead): Rejection | null {
  return checkPath(req.url) ?? checkServerAction(req) ?? checkApiForm(req);
}

/**
 * True when a decoded action argument list holds only what this app's forms send: plain JSON values, and (in a
 * multipart body) FormData references "$K<n>". React's other reference forms ("$Q1" a Map, "$B1" a Blob, "$F1" a
 * server reference, "$1" another chunk…) point at parts a hand-made body need not have, and Next answers 500 when
 * they do not resolve; no form here sends them. A string starting "$$" is an escaped literal "$".
 */
function onlyFormReferences(value: unknown, allowFormData: boolean, depth = 0): boolean {
  if (depth > 64) return false;
  if (typeof value === "string") return !value.startsWith("$") || value.startsWith("$$") || (allowFormData && /^\$K\d+$/.test(value));
  if (Array.isArray(value)) return value.every((v) => onlyFormReferences(v, allowFormData, depth + 1));
  if (value && typeof value === "object")
    return Object.entries(value).every(
      ([k, v]) => onlyFormReferences(k, false, depth + 1) && onlyFormReferences(v, allowFormData, depth + 1),
    );
  return true;
}

/**
 * The body of a server action, read in full (it is small: checkServerAction capped it) before Next decodes it,
 * because Next answers 500 to a body it cannot decode. Multipart must parse as a form, text/plain must be the
 * JSON that Next's client sends, both valid text; with a Next-Action header the arguments (text/plain, or the
 * multipart field "0") may hold no references but FormData ones.
 */
export async function checkActionBody(contentType: string, body: Buffer, nextAction = false): Promise<Rejection | null> {
  const bad = (what: string): Rejection => ({ status: 400, message: `the form post could not be read (${what})` });
  const type = contentType.toLowerCase();
  const args = (text: string, allowFormData: boolean): Rejection | null => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return bad("not JSON");
    }
    // Next's client sends the action's arguments as a JSON array.
    if (!Array.isArray(value)) return bad("the arguments must be a JSON array");
    return onlyFormReferences(value, allowFormData) ? null : bad("references to parts the post does not have");
  };
  if (type.startsWith("multipart/form-data")) {
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(body), { headers: { "content-type": contentType } }).formData();
    } catch {
      return bad("malformed multipart body");
    }
    for (const [, value] of form) if (typeof value === "string" && /\p{Cs}/u.test(value)) return bad("broken Unicode");
    if (nextAction) {
      const root = form.get("0");
      if (typeof root !== "string") return bad("no arguments");
      return args(root, true);
    }
    return null;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    return bad("not UTF-8");
  }
  if (type.startsWith("text/plain")) return args(text, false);
  return null;
}
