// Rollup needs two plugins for vitrine: node-resolve (packages) and
// import-meta-assets (emits the files named by `new URL(…, import.meta.url)`:
// the wasm builds and the self-contained worker).
import { nodeResolve } from '@rollup/plugin-node-resolve';
import { importMetaAssets } from '@web/rollup-plugin-import-meta-assets';

export default {
  input: 'src/main.js',
  output: { dir: 'dist', format: 'es' },
  plugins: [nodeResolve({ browser: true }), importMetaAssets()],
};
