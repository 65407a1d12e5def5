// Where things live: the repository, the ignored cache folder and the artifacts folder.
'use strict';
const path = require('path');

const root = path.resolve(__dirname, '..', '..');

module.exports = {
  /** The repository root (the folder holding package.json). */
  root,
  /** Everything downloaded or built by the scripts (ignored by git). */
  cache: path.join(root, '.cache'),
  /** Screenshots, logs and result files of test runs (ignored by git). */
  artifacts: path.join(root, 'artifacts'),
  /** The packaged extension that `npm run package` writes. */
  vsix: path.join(root, 'dist', 'taskscope.vsix'),
  /** The demo workspace that `npm start` and the e2e test open. */
  demo: path.join(root, 'demo'),
  /** Runs a binary from the repository's node_modules/.bin. */
  bin: (name) => path.join(root, 'node_modules', '.bin', name),
};
