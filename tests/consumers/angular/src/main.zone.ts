// The `zone` build configuration's entry: the same app with zone.js change
// detection, as apps created before Angular 21 have it (zone.js patches
// fetch, Promise and the Worker's event listeners, which the package uses).
import { bootstrapApplication } from '@angular/platform-browser';
import { provideBrowserGlobalErrorListeners, provideZoneChangeDetection } from '@angular/core';
import { App } from './app/app';

bootstrapApplication(App, { providers: [provideBrowserGlobalErrorListeners(), provideZoneChangeDetection()] }).catch((err) => console.error(err));
