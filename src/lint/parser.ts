/**
 * Loads tree-sitter (`web-tree-sitter`) and the Python grammar, both WebAssembly. The two
 * `.wasm` files sit next to the bundle in `dist/` (esbuild.js copies them there); from the
 * compiled sources (unit tests) they are found in `node_modules` instead.
 */

import * as fs from 'fs';
import * as path from 'path';
import type * as TreeSitter from 'web-tree-sitter';

// `require`, not `import`: bundlers then take the package's CommonJS build, whose WebAssembly
// loader works in Node without `import.meta`.
const treeSitter = require('web-tree-sitter') as typeof TreeSitter;
const { Language, Parser } = treeSitter;
export const Edit = treeSitter.Edit;
export type Parser = TreeSitter.Parser;
export type Tree = TreeSitter.Tree;
export type TreeSitterRange = TreeSitter.Range;

export const TREE_SITTER_WASM = 'web-tree-sitter.wasm';
export const PYTHON_WASM = 'tree-sitter-python.wasm';

/** Where each file is looked for, in order: the given folder, this module's folder, node_modules. */
export function locateWasm(file: string, wasmDir?: string): string {
  const candidates: string[] = [];
  if (wasmDir) candidates.push(path.join(wasmDir, file));
  candidates.push(path.join(__dirname, file));
  try {
    const pkg = file === TREE_SITTER_WASM ? 'web-tree-sitter' : 'tree-sitter-python';
    candidates.push(require.resolve(`${pkg}/${file}`));
  } catch {
    // No node_modules (an installed extension): only the bundled copy counts.
  }
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) throw new Error(`TaskScope lint: cannot find ${file}; looked in ${candidates.join(', ')}`);
  return found;
}

let loading: Promise<TreeSitter.Language> | undefined;

/** The Python language, loaded once per process. */
export function loadPython(wasmDir?: string): Promise<TreeSitter.Language> {
  loading ??= (async () => {
    const runtime = fs.readFileSync(locateWasm(TREE_SITTER_WASM, wasmDir));
    await Parser.init({ wasmBinary: runtime });
    return Language.load(fs.readFileSync(locateWasm(PYTHON_WASM, wasmDir)));
  })();
  loading.catch(() => (loading = undefined));
  return loading;
}

/** A parser for Python; call `delete()` when done with it. */
export async function createPythonParser(wasmDir?: string): Promise<Parser> {
  const language = await loadPython(wasmDir);
  const parser = new Parser();
  parser.setLanguage(language);
  return parser;
}
