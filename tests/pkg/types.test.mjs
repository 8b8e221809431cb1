// `tsc --strict` over tests/pkg/types/*.ts (the documented examples, plus
// mistakes the types must reject) against pkg/'s declarations, resolved the
// way a consumer resolves them: NodeNext and bundler module resolution.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../node/helpers.mjs';

const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');

for (const [name, module, moduleResolution] of [
  ['NodeNext', 'nodenext', 'nodenext'],
  ['bundler', 'esnext', 'bundler'],
]) {
  test(`types: tsc --strict under ${name} resolution`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitrine-types-'));
    try {
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(join(ROOT, 'pkg'), join(dir, 'node_modules', 'vitrine'), 'dir');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'types-test', private: true, type: 'module' }));
      const files = readdirSync(join(ROOT, 'tests', 'pkg', 'types')).filter((f) => f.endsWith('.ts')).sort();
      for (const f of files) copyFileSync(join(ROOT, 'tests', 'pkg', 'types', f), join(dir, f));
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            module,
            moduleResolution,
            target: 'es2022',
            lib: ['es2022', 'dom'],
            types: [],
            skipLibCheck: false,
            noUnusedLocals: true,
            exactOptionalPropertyTypes: false,
          },
          files,
        }),
      );
      let out = '';
      try {
        execFileSync(process.execPath, [TSC, '-p', dir], { encoding: 'utf8' });
      } catch (e) {
        out = String(/** @type {any} */ (e).stdout) + String(/** @type {any} */ (e).stderr);
      }
      assert.equal(out, '', `tsc reported:\n${out}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
