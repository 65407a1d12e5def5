/** Paths into the repository, from compiled tests (out/test/unit) or sources alike. */
import * as fs from 'fs';
import * as path from 'path';

function findRoot(start: string): string {
  let dir = start;
  while (!fs.existsSync(path.join(dir, 'package.json')) || !fs.existsSync(path.join(dir, 'docs', 'protocol.md'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no repository root above ${start}`);
    dir = up;
  }
  return dir;
}

export const REPO_ROOT = findRoot(__dirname);
export const PROTOCOL_FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'protocol');

/** The files of one fixture folder, as [name, text] pairs, in name order. */
export function fixtureFiles(folder: string): [string, string][] {
  const dir = path.join(PROTOCOL_FIXTURES, folder);
  return fs
    .readdirSync(dir)
    .sort()
    .map((name) => [name, fs.readFileSync(path.join(dir, name), 'utf8').replace(/\n$/, '')]);
}
