// A prompt with bidi controls, as the gallery pages show it: stored and returned as typed, shown neutralised in the
// cards, the detail page's heading, its <title>, every alt text and title attribute. The pages are called as
// Next calls them (against a real SQLite database), and their element trees searched for what they would print.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { isValidElement, type ReactNode } from "react";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "@/lib/db/client";
import { completeJob, getGeneration } from "@/lib/db/generations";
import { migrate } from "@/lib/db/migrate";

// The detail page asks for the request's headers (is this an admin?): outside a request, none.
vi.mock("next/headers", () => ({ headers: async () => new Headers(), cookies: async () => new Map() }));

const PROMPT = "cat \u202Egnp.exe\u202C face";
// Every bidi control (UAX #9) and the other invisible characters a title could hide behind.
const DISGUISE = /[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/u;
let dir: string;
let id: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-prompt-display-"));
  process.env.DATABASE_URL = `file:${path.join(dir, "tessera.db")}`;
  process.env.TESSERA_EXTRA_MODEL_DIRS = "";
  await migrate(process.env.DATABASE_URL);
  const db = getDb();
  const version = await db.modelVersion.create({ data: { name: "v", kind: "dalle", path: "m", config: {} } });
  // Two alike jobs, each with a CLIP embedding and a rejected candidate: the detail page then shows its rejected
  // candidates and the other job under "more like this", with the prompt in every one of those places.
  const job = async () => {
    const { id } = await db.generation.create({
      data: { prompt: PROMPT, params: {}, seed: 1, status: "running", workerId: "w", leaseUntil: new Date(Date.now() + 60_000) },
    });
    const img = { png: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), width: 32, height: 32 };
    const output = {
      images: [{ ...img, score: 0.3, embedding: new Float32Array([1, 0]) }],
      rejected: [{ ...img, score: 0.1 }],
      candidates: 2,
    };
    expect(await completeJob(db, id, "w", output, {}, version.id)).toBe(true);
    return id;
  };
  id = await job();
  await job();
});
afterAll(async () => {
  await getDb().$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
});

// Not shown as text: a link's address (percent-encoded), and a form field's value, which holds the text as typed so
// that submitting it again searches for the same thing.
// typedPrompt: the transformer tools post the prompt as typed (as the Remix link hands it on); they never render it.
const NOT_SHOWN = new Set(["href", "value", "defaultValue", "typedPrompt"]);

/** Every string an element tree would print: text children and string props (alt, title…), not nested components' output. */
function strings(node: ReactNode | unknown, out: string[] = []): string[] {
  if (typeof node === "string") out.push(node);
  else if (Array.isArray(node)) for (const n of node) strings(n, out);
  else if (isValidElement(node))
    for (const [key, value] of Object.entries(node.props as Record<string, unknown>)) if (!NOT_SHOWN.has(key)) strings(value, out);
  return out;
}

describe("a prompt with bidi controls", () => {
  it("is stored, and returned by the API, as typed", async () => {
    expect((await getGeneration(getDb(), id))?.prompt).toBe(PROMPT);
    const { GET } = await import("@/app/api/generations/[id]/route");
    expect((await (await GET(new Request("http://t"), { params: Promise.resolve({ id }) })).json()).prompt).toBe(PROMPT);
  });

  it("shows neutralised on the detail page: heading, <title>, alt texts", async () => {
    const { default: GenerationPage, generateMetadata } = await import("./[id]/page");
    const params = Promise.resolve({ id });
    const { title } = await generateMetadata({ params });
    expect(title).toBe("cat [U+202E]gnp.exe[U+202C] face");
    const printed = strings(await GenerationPage({ params }));
    expect(printed).toContain("cat [U+202E]gnp.exe[U+202C] face");
    expect(printed).toContain("cat [U+202E]gnp.exe[U+202C] face (1)");
    expect(printed).toContain("cat [U+202E]gnp.exe[U+202C] face (rejected candidate)");
    // The heading, and under "More like this" the link's title, the thumbnail's alt text and the caption.
    expect(printed.filter((s) => s === "cat [U+202E]gnp.exe[U+202C] face")).toHaveLength(4);
    for (const s of printed) expect(s).not.toMatch(DISGUISE);
  });

  it("shows neutralised in the gallery's cards and in the sentence that repeats a search", async () => {
    const { default: GalleryPage } = await import("./(list)/page");
    const cards = strings(await GalleryPage({ searchParams: Promise.resolve({}) }));
    expect(cards.filter((s) => s === "cat [U+202E]gnp.exe[U+202C] face")).toHaveLength(4); // two cards: alt text and caption
    for (const s of cards) expect(s).not.toMatch(DISGUISE);
    const search = strings(await GalleryPage({ searchParams: Promise.resolve({ q: "\u202Egnp" }) }));
    expect(search).toContain("[U+202E]gnp");
    for (const s of search) expect(s).not.toMatch(DISGUISE);
  });
});
