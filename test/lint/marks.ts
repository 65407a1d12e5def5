/**
 * Reads the corpus: every `*.py` file of this folder with the marks on its lines
 * (`# expect: TSK001[, TSK005]`, `# ok`). Shared by the unit tests and the benchmark.
 */
import * as fs from 'fs';
import * as path from 'path';

export interface Mark {
  /** 1-based. */
  readonly line: number;
  /** The codes that must start on this line, sorted; empty for `# ok`. */
  readonly expected: readonly string[];
  /** Marked `# ok`: a case that must stay quiet. */
  readonly ok: boolean;
}

export interface CorpusFile {
  readonly name: string;
  readonly path: string;
  readonly text: string;
  /** Line (1-based) -> mark, for marked lines only. */
  readonly marks: ReadonlyMap<number, Mark>;
}

const EXPECT = /#\s*expect:\s*(TSK\d{3}(?:\s*,\s*TSK\d{3})*)/;
const OK = /#\s*ok\b/;

export function readMarks(text: string): Map<number, Mark> {
  const marks = new Map<number, Mark>();
  text.split('\n').forEach((content, i) => {
    const expect = EXPECT.exec(content);
    if (expect) marks.set(i + 1, { line: i + 1, expected: expect[1].split(/\s*,\s*/).sort(), ok: false });
    else if (OK.test(content)) marks.set(i + 1, { line: i + 1, expected: [], ok: true });
  });
  return marks;
}

export function readCorpus(dir: string): CorpusFile[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.py'))
    .sort()
    .map((name) => {
      const file = path.join(dir, name);
      const text = fs.readFileSync(file, 'utf8');
      return { name, path: file, text, marks: readMarks(text) };
    });
}
