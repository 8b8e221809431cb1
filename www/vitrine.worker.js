// Entry of the module Worker behind `loadInWorker()`. In the npm package this
// file is shipped pre-bundled (one self-contained script, no imports), so a
// bundler that copies it as an asset or re-bundles it cannot lose a piece.

import { serve } from './lib/worker-host.js';

serve(self);
