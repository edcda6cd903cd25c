import type { Locator, Page } from "@playwright/test";

/** The gallery (`/gallery`) and a generation's detail page (`/gallery/[id]`). */
export class GalleryPage {
  readonly items: Locator;
  readonly search: Locator;
  readonly submit: Locator;
  readonly count: Locator;
  readonly detailPrompt: Locator;
  readonly detailImages: Locator;

  constructor(readonly page: Page) {
    this.items = page.getByTestId("gallery-item");
    this.search = page.getByTestId("gallery-q");
    this.submit = page.getByTestId("gallery-submit");
    this.count = page.getByTestId("gallery-count");
    this.detailPrompt = page.getByTestId("detail-prompt");
    this.detailImages = page.getByTestId("detail-image");
  }

  async goto(): Promise<void> {
    await this.page.goto("/gallery");
  }

  async searchFor(text: string): Promise<void> {
    await this.search.fill(text);
    await this.submit.click();
  }

  param(name: string): Locator {
    return this.page.getByTestId(`param-${name}`);
  }
}
