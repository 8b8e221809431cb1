// `vitrine/worker` is the worker script itself. Imported through a bundler's
// file or URL loader (esbuild `--loader:.worker.js=file`), its default export
// is the URL of the emitted file, for `loadInWorker(source, {workerUrl})`.
declare const workerUrl: string;
export default workerUrl;
