// Every mark of every corpus file (test/lint/*.py): the codes marked on a line start there, and
// nothing starts on any other line.
import * as assert from 'assert';
import * as path from 'path';
import { Linter } from '../../src/lint/linter';
import { readCorpus } from '../lint/marks';
import { REPO_ROOT } from './repo';

const CORPUS = path.join(REPO_ROOT, 'test', 'lint');

describe('lint corpus (test/lint)', () => {
  let linter: Linter;
  before(async () => {
    linter = await Linter.create();
  });
  after(() => linter?.dispose());

  const files = readCorpus(CORPUS);
  it('has files, each with marks', () => {
    assert.ok(files.length >= 8, `only ${files.length} corpus files`);
    for (const f of files) assert.ok(f.marks.size > 0, `${f.name} has no marks`);
  });

  for (const file of files) {
    it(`${file.name}: every line reports exactly what it is marked with`, () => {
      const result = linter.lint(file.text);
      const found = new Map<number, string[]>();
      for (const f of result.findings) {
        const line = f.line + 1;
        found.set(line, [...(found.get(line) ?? []), f.code].sort());
      }
      const lines = file.text.split('\n');
      const problems: string[] = [];
      const allLines = new Set([...found.keys(), ...file.marks.keys()]);
      for (const line of [...allLines].sort((a, b) => a - b)) {
        const expected = file.marks.get(line)?.expected ?? [];
        const actual = found.get(line) ?? [];
        if (expected.join() !== actual.join()) {
          problems.push(`${file.name}:${line}: expected [${expected.join(', ')}], found [${actual.join(', ')}]: ${lines[line - 1].trim()}`);
        }
      }
      assert.deepStrictEqual(problems, []);
      assert.strictEqual(result.syntaxError !== undefined, file.name.startsWith('syntax_error'), 'syntax error reported');
    });
  }
});
