import type { Locator, Page } from "@playwright/test";

/** The gallery (`/gallery`) and a generation's detail page (`/gallery/[id]`). */
export class GalleryPage {
  readonly items: Locator;
  readonly search: Locator;
  readonly submit: Locator;
  readonly count: Locator;
  /** The "by meaning" toggle beside the search box (CLIP similarity instead of a substring). */
  readonly byMeaning: Locator;
  readonly similarity: Locator;
  readonly moreLikeThis: Locator;
  readonly detailPrompt: Locator;
  readonly detailImages: Locator;
  /** A primed generation's source picture with its kept rows, and the rows it says were kept. */
  readonly detailSource: Locator;
  readonly detailSourceRows: Locator;
  /** The CLIP score under each kept image (a model with a CLIP). */
  readonly detailScores: Locator;
  /** The "rejected candidates" section (collapsed) and its images. */
  readonly rejected: Locator;
  readonly rejectedImages: Locator;
  /** The model filter beside the search box, and the model name on each card. */
  readonly modelFilter: Locator;
  readonly cardModels: Locator;

  constructor(readonly page: Page) {
    this.items = page.getByTestId("gallery-item");
    this.search = page.getByTestId("gallery-q");
    this.submit = page.getByTestId("gallery-submit");
    this.count = page.getByTestId("gallery-count");
    this.byMeaning = page.getByTestId("gallery-meaning");
    this.similarity = page.getByTestId("gallery-similarity");
    this.moreLikeThis = page.getByTestId("similar-item");
    this.detailPrompt = page.getByTestId("detail-prompt");
    this.detailImages = page.getByTestId("detail-image");
    this.detailSource = page.getByTestId("detail-source-preview");
    this.detailSourceRows = page.getByTestId("detail-source-rows");
    this.detailScores = page.getByTestId("detail-score");
    this.rejected = page.getByTestId("detail-rejected");
    this.rejectedImages = page.getByTestId("rejected-image");
    this.modelFilter = page.getByTestId("gallery-model");
    this.cardModels = page.getByTestId("card-model");
  }

  async goto(): Promise<void> {
    await this.page.goto("/gallery");
  }

  async searchFor(text: string, options: { byMeaning?: boolean } = {}): Promise<void> {
    await this.search.fill(text);
    await this.byMeaning.setChecked(options.byMeaning ?? false);
    await this.submit.click();
  }

  /** Shows only the generations of the model of this name (the filter's select, then Search). */
  async filterByModel(name: string): Promise<void> {
    await this.modelFilter.selectOption({ label: name });
    await this.submit.click();
  }

  /** The card of one generation. */
  item(id: string): Locator {
    return this.page.locator(`[data-testid="gallery-item"][href="/gallery/${id}"]`);
  }

  param(name: string): Locator {
    return this.page.getByTestId(`param-${name}`);
  }
}
