import type { Locator, Page } from "@playwright/test";

/** The Create page at `/` once a model is active: prompt, options, progress and results. */
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

  constructor(readonly page: Page) {
    this.prompt = page.getByTestId("prompt");
    this.generate = page.getByTestId("generate");
    this.progress = page.getByTestId("progress");
    this.results = page.getByTestId("result-image");
    this.error = page.getByTestId("create-error");
    this.examples = page.getByTestId("example");
    this.advancedToggle = page.getByTestId("advanced-toggle");
    this.rerankInfo = page.getByTestId("result-rerank");
  }

  async goto(): Promise<void> {
    await this.page.goto("/");
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
