import type { Locator, Page } from "@playwright/test";

/** The Create page at `/` once a model is servable: model picker, prompt, options, progress and results. */
export class CreatePage {
  readonly prompt: Locator;
  readonly generate: Locator;
  readonly progress: Locator;
  readonly results: Locator;
  readonly error: Locator;
  readonly examples: Locator;
  readonly advancedToggle: Locator;
  /** "best n of C by CLIP", or "reranking off". */
  readonly rerankInfo: Locator;
  /** The model picker: every servable model, the active one first (labelled "<name> (active)"). */
  readonly modelPicker: Locator;
  /** The link of a finished generation to its page, `/gallery/<id>`. */
  readonly openInGallery: Locator;
  /** "Start from an image": the file input, the kept-rows slider, and the picked picture with its kept rows. */
  readonly initFile: Locator;
  readonly keepRows: Locator;
  readonly initPreview: Locator;
  /** While a primed job runs: its source with the kept rows, shown first; then the partial pictures. */
  readonly keptRows: Locator;
  readonly partials: Locator;
  /** "Run on: server | this browser", and its note (download size, load progress, or why the browser cannot). */
  readonly runOnBrowser: Locator;
  readonly runOnServer: Locator;
  readonly runOnNote: Locator;

  constructor(readonly page: Page) {
    this.prompt = page.getByTestId("prompt");
    this.generate = page.getByTestId("generate");
    this.progress = page.getByTestId("progress");
    this.results = page.getByTestId("result-image");
    this.error = page.getByTestId("create-error");
    this.examples = page.getByTestId("example");
    this.advancedToggle = page.getByTestId("advanced-toggle");
    this.rerankInfo = page.getByTestId("result-rerank");
    this.modelPicker = page.getByTestId("model-picker");
    this.openInGallery = page.getByTestId("open-in-gallery");
    this.initFile = page.getByTestId("init-file");
    this.keepRows = page.getByTestId("init-keep-rows");
    this.initPreview = page.getByTestId("init-preview");
    this.keptRows = page.getByTestId("kept-rows-preview");
    this.partials = page.getByTestId("partial-image");
    this.runOnBrowser = page.getByTestId("run-on-browser");
    this.runOnServer = page.getByTestId("run-on-server");
    this.runOnNote = page.getByTestId("run-on-note");
  }

  /** Picks a picture to start from (once the page's scripts have loaded) and how many of its code rows to keep. */
  async startFrom(file: { name: string; mimeType: string; buffer: Buffer }, keepRows: number): Promise<void> {
    await this.page.waitForLoadState("networkidle");
    await this.initFile.setInputFiles(file);
    await this.keepRows.fill(String(keepRows));
  }

  /** `/`, or `/?model=<name>` to preselect a model. */
  async goto(options: { model?: string } = {}): Promise<void> {
    await this.page.goto(options.model ? `/?model=${encodeURIComponent(options.model)}` : "/");
  }

  private modelOption(name: string): Locator {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return this.modelPicker.locator("option").filter({ hasText: new RegExp(`^${escaped}( \\(active\\))?$`) });
  }

  /** Picks a model by name in the picker (once the page's scripts have loaded: the switch happens client-side). */
  async pickModel(name: string): Promise<void> {
    await this.page.waitForLoadState("networkidle");
    const value = await this.modelOption(name).getAttribute("value");
    if (!value) throw new Error(`the model picker has no model ${name}`);
    await this.modelPicker.selectOption(value);
  }

  /** The name of the model picked now. */
  async pickedModel(): Promise<string> {
    const label = (await this.modelPicker.locator("option:checked").textContent()) ?? "";
    return label.replace(/ \(active\)$/, "");
  }

  /** One advanced option's field (`n`, `candidates`, `guidance`, `temperature`, `topK`, `seed`). */
  option(name: string): Locator {
    return this.page.getByTestId(`option-${name}`);
  }

  /** Picks where the model runs (once the page's scripts have loaded and the browser option has been offered). */
  async runOn(where: "server" | "browser"): Promise<void> {
    await this.page.waitForLoadState("networkidle");
    await (where === "browser" ? this.runOnBrowser : this.runOnServer).check();
  }

  /** The bytes of every result image, as SHA-256 hex, sorted (CLIP may reorder a server run's images). */
  async resultHashes(): Promise<string[]> {
    const srcs = await this.results.evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).getAttribute("src") ?? ""));
    const hashes = await Promise.all(
      srcs.map(async (src) => {
        const body = await (await this.page.request.get(src)).body();
        const { createHash } = await import("node:crypto");
        return createHash("sha256").update(body).digest("hex");
      }),
    );
    return hashes.sort();
  }

  /** The id of the finished generation, from its "Open in gallery" link. */
  async generationId(): Promise<string> {
    const href = (await this.openInGallery.getAttribute("href")) ?? "";
    return href.replace(/^\/gallery\//, "");
  }

  async create(prompt: string, options: { n?: number; seed?: number; candidates?: number } = {}): Promise<void> {
    await this.prompt.fill(prompt);
    if (options.n !== undefined || options.seed !== undefined || options.candidates !== undefined) {
      await this.advancedToggle.click();
      if (options.n !== undefined) await this.page.getByTestId("option-n").fill(String(options.n));
      if (options.candidates !== undefined) await this.page.getByTestId("option-candidates").fill(String(options.candidates));
      if (options.seed !== undefined) await this.page.getByTestId("option-seed").fill(String(options.seed));
    }
    await this.generate.click();
  }
}
