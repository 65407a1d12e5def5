// Build steps shared by the test tiers and `npm start`; each runs at most once per process.
'use strict';
const fs = require('fs');
const path = require('path');
const paths = require('./paths');
const proc = require('./proc');

const done = new Map();

/** Runs `fn` once per process for `key`; later calls get the same promise. */
function once(key, fn) {
  if (!done.has(key)) done.set(key, fn());
  return done.get(key);
}

/** `npm run <script>` in the repository, output shown; throws when it fails. */
function npmRun(script, log) {
  log(`$ npm run ${script}`);
  return proc.runOrThrow('npm', ['run', '--silent', script], { cwd: paths.root, echo: true });
}

/**
 * Compiles src/ and test/ with tsc into out/ (emptied first, so a deleted test leaves no stale
 * .js behind). Resolves to {ok, errors, output}: tsc still writes the files when it finds type
 * errors, and the caller decides what a type error means for its tier.
 */
function compileTests(log = console.log) {
  return once('tests', async () => {
    const out = path.join(paths.root, 'out');
    fs.rmSync(out, { recursive: true, force: true });
    log('$ tsc -p tsconfig.json --outDir out');
    const tsc = path.join(paths.root, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await proc.run(process.execPath, [tsc, '-p', 'tsconfig.json', '--outDir', out, '--pretty', 'false'], {
      cwd: paths.root,
      echo: true,
    });
    const errors = (result.output.match(/error TS\d+/g) || []).length;
    return { ok: result.code === 0, errors, output: result.output };
  });
}

/** `npm run compile`: type check and bundle src/ into dist/extension.js. */
function compileExtension(log = console.log) {
  return once('extension', () => npmRun('compile', log));
}

/** `npm run package`: dist/taskscope.vsix (a production build of the extension). */
function packageExtension(log = console.log) {
  return once('package', async () => {
    fs.rmSync(paths.vsix, { force: true });
    await npmRun('package', log);
    if (!fs.existsSync(paths.vsix)) throw new Error(`npm run package wrote no ${path.relative(paths.root, paths.vsix)}`);
    return paths.vsix;
  });
}

module.exports = { compileTests, compileExtension, packageExtension };
