// Bundles the extension (src/extension.ts -> dist/extension.js), as the `yo code` esbuild template does,
// and the linter's command line (src/lint/cli.ts -> dist/lint-cli.js).
const fs = require('fs');
const path = require('path');
const esbuild = require('esbuild');

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

/** Prints esbuild's problems in the form VS Code's problem matcher reads. */
const problemMatcherPlugin = {
  name: 'esbuild-problem-matcher',
  setup(build) {
    build.onStart(() => console.log('[watch] build started'));
    build.onEnd((result) => {
      for (const { text, location } of result.errors) {
        console.error(`✘ [ERROR] ${text}`);
        if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
      }
      console.log('[watch] build finished');
    });
  },
};

/** Copies tree-sitter's WebAssembly files next to the bundles, where src/lint/parser.ts loads them from. */
const copyWasmPlugin = {
  name: 'copy-tree-sitter-wasm',
  setup(build) {
    build.onEnd(() => {
      fs.mkdirSync('dist', { recursive: true });
      for (const file of ['web-tree-sitter/web-tree-sitter.wasm', 'tree-sitter-python/tree-sitter-python.wasm']) {
        fs.copyFileSync(require.resolve(file), path.join('dist', path.basename(file)));
      }
    });
  },
};

const common = {
  bundle: true,
  format: 'cjs',
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  platform: 'node',
  target: 'node20',
  logLevel: 'silent',
};

async function main() {
  const contexts = await Promise.all([
    esbuild.context({
      ...common,
      entryPoints: ['src/extension.ts'],
      outfile: 'dist/extension.js',
      external: ['vscode'],
      plugins: [problemMatcherPlugin, copyWasmPlugin],
    }),
    esbuild.context({
      ...common,
      entryPoints: ['src/lint/cli.ts'],
      outfile: 'dist/lint-cli.js',
      banner: { js: '#!/usr/bin/env node' },
      plugins: [problemMatcherPlugin, copyWasmPlugin],
    }),
  ]);
  if (watch) {
    await Promise.all(contexts.map((ctx) => ctx.watch()));
  } else {
    await Promise.all(contexts.map((ctx) => ctx.rebuild()));
    await Promise.all(contexts.map((ctx) => ctx.dispose()));
    fs.chmodSync('dist/lint-cli.js', 0o755);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
