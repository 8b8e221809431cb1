// Not needed (tests/consumers/vite runs with no config file): the variant
// many wasm packages tell their users to add, kept working here so that an
// app that has it is not broken by it. dev.test.mjs runs `vite --config
// vite.exclude.config.js` as the `vite-exclude` dev server.
export default { optimizeDeps: { exclude: ['vitrine'] } };
