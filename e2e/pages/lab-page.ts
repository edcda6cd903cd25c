// The lab page (/lab) and the lab's tools on a generation's page (issue 19): the VAE's variations and blends, the
// Real-NVP's bits/dim.
import type { Locator, Page } from "@playwright/test";

export class LabPage {
  constructor(private readonly page: Page) {}

  async goto(): Promise<void> {
    await this.page.goto("/lab");
  }

  card(kind: string): Locator {
    return this.page.getByTestId(`lab-${kind}`);
  }

  metrics(kind: string): Locator {
    return this.page.getByTestId(`lab-${kind}-metrics`);
  }

  samples(kind: string): Locator {
    return this.page.getByTestId(`lab-${kind}-samples`);
  }

  /** On a generation's page. */
  get variationsButton(): Locator {
    return this.page.getByTestId("vae-variations-button");
  }

  get variations(): Locator {
    return this.page.getByTestId("vae-variation");
  }

  get blendButton(): Locator {
    return this.page.getByTestId("vae-blend-button");
  }

  get blendFrames(): Locator {
    return this.page.getByTestId("vae-blend-frame");
  }

  get bitsPerDim(): Locator {
    return this.page.getByTestId("detail-bits-per-dim");
  }
}
