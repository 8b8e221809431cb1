// The app's own worker, as `ng generate web-worker` lays one out: it runs
// vitrine's worker script (the module's side effect installs the handler).
import 'vitrine/worker';
