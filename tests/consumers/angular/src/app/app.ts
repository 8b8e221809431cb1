import { Component, inject, signal } from '@angular/core';
import { RecommenderService, type RunArgs } from './recommender.service';

declare global {
  // Read by tests/consumers/consumers.test.mjs through Playwright.
  var vitrineRun: ((args: RunArgs) => Promise<unknown>) | undefined;
  var vitrineReady: boolean | undefined;
}

@Component({
  selector: 'app-root',
  template: `<h1>vitrine + Angular</h1><p>{{ status() }}</p>`,
})
export class App {
  private readonly recommender = inject(RecommenderService);
  protected readonly status = signal('ready');

  constructor() {
    globalThis.vitrineRun = async (args) => {
      this.status.set('running');
      const out = await this.recommender.run(args);
      this.status.set('done');
      return out;
    };
    globalThis.vitrineReady = true;
  }
}
