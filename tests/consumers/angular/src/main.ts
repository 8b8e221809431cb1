// Fixture app for tests/consumers/angular: what `ng new --minimal` (Angular 21,
// zoneless) produces, without the router, plus a service that uses vitrine.
import { bootstrapApplication } from '@angular/platform-browser';
import { provideBrowserGlobalErrorListeners } from '@angular/core';
import { App } from './app/app';

bootstrapApplication(App, { providers: [provideBrowserGlobalErrorListeners()] }).catch((err) => console.error(err));
