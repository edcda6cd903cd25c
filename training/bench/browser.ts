// `npm run bench:browser`: generation in the visitor's browser (issue 33) against the server's ORT engine, in one
// run, against a running server (`npm start`; --url). Headless Chromium (Debian's) opens the Create page, runs the
// same prompt, n and seed on "this browser" twice (a cold load, then from the browser's cache) and once on the
// server, and prints JSON: the model's download size, the page's time to load, to the first partial picture and to
// the last token, its tokens/s, and the server job's tokens/s from its recorded timings. Needs a quiet machine.
import { chromium, type Page } from "@playwright/test";
import { z } from "zod";
import { parseFlags, runMain } from "../cli";

const USAGE = "usage: npm run bench:browser -- [--url http://127.0.0.1:3000] [--prompt 'red heart, twemoji'] [--n 4] [--seed 7]";
const Flags = z.strictObject({
  url: z.string().url().default("http://127.0.0.1:3000"),
  prompt: z.string().min(1).default("red heart, twemoji"),
  n: z.coerce.number().int().min(1).max(9).default(4),
  seed: z.coerce.number().int().min(0).default(7),
  chromium: z.string().default(process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"),
});

/** The tessera:* performance marks of the last browser run, in ms since the run started. */
async function marks(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() => {
    const all = performance.getEntriesByType("mark").filter((m) => m.name.startsWith("tessera:"));
    const start = [...all].reverse().find((m) => m.name === "tessera:start")!.startTime;
    const out: Record<string, number> = {};
    for (const m of all) if (m.startTime >= start) out[m.name.slice("tessera:".length)] = Math.round(m.startTime - start);
    return out;
  });
}

async function generate(page: Page, f: z.infer<typeof Flags>, where: "server" | "browser"): Promise<string> {
  await page.goto(f.url);
  await page.waitForLoadState("networkidle");
  if (where === "browser") await page.getByTestId("run-on-browser").check({ timeout: 30_000 });
  await page.getByTestId("prompt").fill(f.prompt);
  await page.getByTestId("advanced-toggle").click();
  await page.getByTestId("option-n").fill(String(f.n));
  await page.getByTestId("option-seed").fill(String(f.seed));
  const candidates = page.getByTestId("option-candidates");
  if (where === "server" && (await candidates.count()) && (await candidates.isEnabled())) await candidates.fill(String(f.n));
  await page.getByTestId("generate").click();
  await page.getByTestId("result-image").first().waitFor({ timeout: 300_000 });
  return ((await page.getByTestId("open-in-gallery").getAttribute("href")) ?? "").replace(/^\/gallery\//, "");
}

async function main() {
  const f = parseFlags(process.argv.slice(2), Flags, USAGE);
  const browser = await chromium.launch({ executablePath: f.chromium, args: ["--no-sandbox", "--disable-gpu"] });
  try {
    const page = await browser.newPage();
    let downloaded = 0;
    // Bytes that came over the network (0 for a file the browser's cache answered).
    page.on("requestfinished", async (req) => {
      if (/\/api\/(models\/[^/]+\/browser\/|browser-runtime\/)/.test(req.url())) downloaded += (await req.sizes()).responseBodySize;
    });
    const manifest = await (await page.request.get(`${f.url}/api/models/active/browser`)).json();
    const tokens = f.n * manifest.config.imageGrid ** 2;
    const runs = [];
    for (const cache of ["cold", "warm"]) {
      if (cache === "warm") downloaded = 0;
      // A fresh page each time: the model is fetched again (from the HTTP cache when warm) and its sessions rebuilt.
      await generate(page, f, "browser");
      const m = await marks(page);
      runs.push({
        cache,
        downloadedBytes: downloaded,
        loadMs: m.loaded,
        firstImageMs: m["first-image"],
        lastTokenMs: m.sampled,
        storedMs: m.stored,
        tokensPerS: Math.round((tokens / ((m.sampled - m.loaded) / 1000)) * 10) / 10,
      });
    }
    const id = await generate(page, f, "server");
    const job = await (await page.request.get(`${f.url}/api/generations/${id}`)).json();
    const serverTokensMs = job.timings?.tokensMs as number | undefined;
    console.log(
      JSON.stringify(
        {
          model: manifest.model.name,
          prompt: f.prompt,
          n: f.n,
          seed: f.seed,
          downloadBytes: manifest.totalBytes,
          files: manifest.files.map((x: { role: string; bytes: number }) => ({ role: x.role, bytes: x.bytes })),
          browser: runs,
          server: {
            engine: "onnxruntime-node (the server's worker)",
            timings: job.timings,
            tokensPerS: serverTokensMs ? Math.round((tokens / (serverTokensMs / 1000)) * 10) / 10 : null,
          },
        },
        null,
        2,
      ),
    );
  } finally {
    await browser.close();
  }
}

runMain("bench:browser", main);
