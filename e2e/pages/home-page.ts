import type { Locator, Page } from "@playwright/test";

/** The Create page at `/`: intro, system status card, and (later) the prompt box. */
export class HomePage {
  readonly title: Locator;
  readonly overallStatus: Locator;
  readonly backend: Locator;
  readonly database: Locator;
  readonly model: Locator;
  readonly noModelNotice: Locator;

  constructor(readonly page: Page) {
    this.title = page.getByTestId("home-title");
    this.overallStatus = page.getByTestId("status-overall");
    this.backend = page.getByTestId("status-backend");
    this.database = page.getByTestId("status-db");
    this.model = page.getByTestId("status-model");
    this.noModelNotice = page.getByTestId("no-model");
  }

  async goto(): Promise<void> {
    await this.page.goto("/");
  }
}
