// Entry of the module Worker behind `loadInWorker()`. In the npm package this
// file is shipped pre-bundled (one self-contained script, no imports), so a
// bundler that copies it as an asset or re-bundles it cannot lose a piece.

import { serve } from './lib/worker-host.js';

// Imported into a page by mistake (a bundler without a file/url loader), it
// does nothing rather than answer the page's own messages.
if (typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope) serve(self);
