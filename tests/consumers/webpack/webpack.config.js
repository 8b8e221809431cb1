// The only webpack configuration vitrine needs is none: webpack 5 emits the
// wasm files and bundles the worker from `new URL(…, import.meta.url)`.
const path = require('node:path');
module.exports = {
  entry: './src/main.js',
  output: { path: path.resolve(__dirname, 'dist'), filename: 'main.js', clean: true },
};
