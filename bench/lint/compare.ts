/**
 * The linter against Ruff's RUF006, side by side in one run (`npm run bench:lint`):
 *  - on the corpus (test/lint): every dangling-task case found or missed by each, and false
 *    alarms of each (a finding on a line not marked with TSK001);
 *  - on a generated 10k-line module: time of a full lint by each (median of several runs,
 *    interleaved so that noise hits both alike), and TaskScope's re-lint after a one-line edit.
 * Goals (issue 5): every case Ruff finds plus those it misses; no false alarm; full lint within
 * 1.5x Ruff's time; re-lint under 30 ms. `--write` puts the figures into docs/benchmarks.md.
 */

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Linter } from '../../src/lint/linter';
import { type CorpusFile, readCorpus } from '../../test/lint/marks';
import { generateModule } from './generate';

const ruffWasm = require('@astral-sh/ruff-wasm-nodejs') as {
  Workspace: { new (options: object, encoding: number): RuffWorkspace; version(): string };
  PositionEncoding: { Utf16: number };
};
interface RuffWorkspace {
  check(text: string): { code: string | null; start_location: { row: number; column: number } }[];
}

const ROOT = path.resolve(__dirname, '..', '..', '..');
/** Files that test TaskScope's own suppression comments, which Ruff does not read. */
const NOT_FOR_RUFF = new Set(['suppression.py']);
const RUNS = 25;
/** Runs before measuring: WebAssembly code is compiled to its fast tier over the first runs (both tools). */
const WARMUP = 20;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

interface CaseRow {
  file: string;
  line: number;
  text: string;
  ruff: boolean;
  ours: boolean;
}

function compareOnCorpus(linter: Linter, ruff: RuffWorkspace, files: CorpusFile[]) {
  const cases: CaseRow[] = [];
  const falseAlarms = { ruff: [] as string[], ours: [] as string[] };
  let quietCases = 0;
  for (const file of files) {
    if (NOT_FOR_RUFF.has(file.name)) continue;
    const lines = file.text.split('\n');
    const ruffLines = new Set(ruff.check(file.text).filter((d) => d.code === 'RUF006').map((d) => d.start_location.row));
    const ourLines = new Set(linter.lint(file.text).findings.filter((f) => f.code === 'TSK001').map((f) => f.line + 1));
    const expected = new Set([...file.marks.values()].filter((m) => m.expected.includes('TSK001')).map((m) => m.line));
    quietCases += [...file.marks.values()].filter((m) => m.ok).length;
    for (const line of [...expected].sort((a, b) => a - b)) {
      cases.push({ file: file.name, line, text: lines[line - 1].replace(/#.*$/, '').trim(), ruff: ruffLines.has(line), ours: ourLines.has(line) });
    }
    for (const line of ruffLines) if (!expected.has(line)) falseAlarms.ruff.push(`${file.name}:${line}: ${lines[line - 1].trim()}`);
    for (const line of ourLines) if (!expected.has(line)) falseAlarms.ours.push(`${file.name}:${line}: ${lines[line - 1].trim()}`);
  }
  return { cases, falseAlarms, quietCases };
}

/** Median time of a full lint of all the texts (one after the other), by each, interleaved. */
function timeFullLint(linter: Linter, ruff: RuffWorkspace, texts: string[], options: { checkSyntax?: boolean } = {}) {
  const lintAll = () => texts.forEach((t) => linter.lint(t, options));
  const ruffAll = () => texts.forEach((t) => ruff.check(t));
  for (let i = 0; i < WARMUP; i++) {
    ruffAll();
    lintAll();
  }
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    theirs.push(time(ruffAll));
    ours.push(time(lintAll));
  }
  return { ours: median(ours), ruff: median(theirs) };
}

/**
 * Re-lint after one-line edits in the middle of the module: a comment added, a line added, a
 * number changed. `wholeTree`: with the whole syntax tree (tree.edit + incremental reparse).
 */
function timeRelint(linter: Linter, text: string, wholeTree = false): { median: number; max: number } {
  const doc = linter.open(text);
  const lint = () => (wholeTree ? doc.lintWholeTree() : doc.lint());
  for (let i = 0; i < WARMUP; i++) {
    doc.update(`${text}\n# warm-up ${i}\n`);
    lint();
  }
  doc.update(text);
  lint();
  const lines = text.split('\n');
  const times: number[] = [];
  try {
    for (let i = 0; i < RUNS * 2; i++) {
      const at = Math.floor(lines.length * (0.3 + 0.4 * (i / (RUNS * 2))));
      const edited = [...lines];
      if (i % 3 === 0) edited[at] = `${edited[at]}  # edited ${i}`;
      else if (i % 3 === 1) edited.splice(at, 0, `${/^\s*/.exec(lines[at])?.[0] ?? ''}pass`);
      else edited.splice(at, 1, lines[at].replace(/\d+/, (d) => String(Number(d) + 1)));
      const next = edited.join('\n');
      times.push(
        time(() => {
          doc.update(next);
          lint();
        }),
      );
      doc.update(text);
      lint();
    }
  } finally {
    doc.dispose();
  }
  return { median: median(times), max: Math.max(...times) };
}

const ms = (v: number) => `${v.toFixed(1)} ms`;
const yes = (b: boolean) => (b ? 'found' : '**missed**');

async function main() {
  const linter = await Linter.create();
  const ruff = new ruffWasm.Workspace({ lint: { select: ['RUF006'] } }, ruffWasm.PositionEncoding.Utf16);
  const files = readCorpus(path.join(ROOT, 'test', 'lint'));

  const corpus = compareOnCorpus(linter, ruff, files);
  const total = corpus.cases.length;
  const byRuff = corpus.cases.filter((c) => c.ruff).length;
  const byUs = corpus.cases.filter((c) => c.ours).length;
  const ruffOnly = corpus.cases.filter((c) => c.ruff && !c.ours).length;
  const onlyUs = corpus.cases.filter((c) => c.ours && !c.ruff).length;

  const generated = generateModule(10_000);
  const genLines = generated.text.split('\n').length - 1;
  fs.mkdirSync(path.join(ROOT, 'out', 'bench', 'lint'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'out', 'bench', 'lint', 'generated.py'), generated.text);
  const genRuff = new Set(ruff.check(generated.text).filter((d) => d.code === 'RUF006').map((d) => d.start_location.row));
  const genOurs = new Set(linter.lint(generated.text).findings.filter((f) => f.code === 'TSK001').map((f) => f.line + 1));
  const expectedGen = new Set([...generated.plainDangling, ...generated.subtleDangling]);
  const genStats = (found: Set<number>) => ({
    plain: generated.plainDangling.filter((l) => found.has(l)).length,
    subtle: generated.subtleDangling.filter((l) => found.has(l)).length,
    falseAlarms: [...found].filter((l) => !expectedGen.has(l)).length,
  });
  const gRuff = genStats(genRuff);
  const gOurs = genStats(genOurs);

  const corpusLines = files.reduce((n, f) => n + f.text.split('\n').length - 1, 0);
  const fullCorpus = timeFullLint(linter, ruff, files.map((f) => f.text));
  const full = timeFullLint(linter, ruff, [generated.text]);
  const wholeTree = timeFullLint(linter, ruff, [generated.text], { checkSyntax: true });
  const relint = timeRelint(linter, generated.text);
  const relintWhole = timeRelint(linter, generated.text, true);
  linter.dispose();

  const ratio = full.ours / full.ruff;
  const report = [
    `Measured by \`npm run bench:lint\` (bench/lint/compare.ts) on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, Ruff ${ruffWasm.Workspace.version()} (WebAssembly, \`--select RUF006\`), one process, ${WARMUP} warm-up runs then ${RUNS} interleaved runs per figure (median), load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores at the start. The machine is shared and noisy: read ratios, not last digits.`,
    '',
    '### Dangling tasks in the corpus (`test/lint`, TSK001 vs RUF006)',
    '',
    '| | TaskScope | Ruff RUF006 |',
    '| --- | --- | --- |',
    `| dangling-task cases found (of ${total}) | ${byUs} | ${byRuff} |`,
    `| cases the other one misses | ${onlyUs} | ${ruffOnly} |`,
    `| false alarms (of ${corpus.quietCases} must-stay-quiet cases, and every unmarked line) | ${corpus.falseAlarms.ours.length} | ${corpus.falseAlarms.ruff.length} |`,
    '',
    `Goal: every case Ruff finds (${byRuff - ruffOnly}/${byRuff}) plus those it misses (${onlyUs} more), no false alarm (${corpus.falseAlarms.ours.length}).`,
    '',
    ...(corpus.falseAlarms.ruff.length ? ['Ruff\'s false alarms:', '', ...corpus.falseAlarms.ruff.map((l) => `- \`${l}\``), ''] : []),
    '<details><summary>Every case</summary>',
    '',
    '| case | TaskScope | Ruff |',
    '| --- | --- | --- |',
    ...corpus.cases.map((c) => `| \`${c.file}:${c.line}\` \`${c.text.replace(/\|/g, '\\|')}\` | ${yes(c.ours)} | ${yes(c.ruff)} |`),
    '',
    '</details>',
    '',
    `### Time (generated module of ${genLines.toLocaleString('en')} lines, bench/lint/generate.ts)`,
    '',
    '| | TaskScope | Ruff RUF006 | goal |',
    '| --- | --- | --- | --- |',
    `| full lint, 10k lines (parse + check) | ${ms(full.ours)} | ${ms(full.ruff)} | ≤ 1.5× Ruff: **${ratio.toFixed(2)}×** |`,
    `| full lint parsing the whole text (the command line, which also reports syntax errors) | ${ms(wholeTree.ours)} | ${ms(wholeTree.ruff)} | ${(wholeTree.ours / wholeTree.ruff).toFixed(2)}× |`,
    `| full lint of the corpus, file by file (${files.length} files, ${corpusLines} lines) | ${ms(fullCorpus.ours)} | ${ms(fullCorpus.ruff)} | |`,
    `| re-lint after a one-line edit, 10k lines | ${ms(relint.median)} (max ${ms(relint.max)}) | no incremental mode: a full lint | < 30 ms |`,
    `| the same with the whole tree (tree.edit + incremental reparse, as for quick fixes) | ${ms(relintWhole.median)} (max ${ms(relintWhole.max)}) | | |`,
    `| dangling tasks found in the module, plain (of ${generated.plainDangling.length}) | ${gOurs.plain} | ${gRuff.plain} | |`,
    `| dangling tasks found in the module, subtle (of ${generated.subtleDangling.length}) | ${gOurs.subtle} | ${gRuff.subtle} | |`,
    `| false alarms in the module | ${gOurs.falseAlarms} | ${gRuff.falseAlarms} | 0 |`,
    '',
    'A full lint is all of `Linter.lint`: the text scan for candidates, the parse of the statements that',
    'need one (docs/lint.md, "How it works"), every check. The command line parses the whole text so that',
    'it can report syntax errors anywhere: the second row. A re-lint is `LintDocument.update` + `lint`',
    'after a one-line edit in the middle of the module, as the editor does; quick fixes use the whole',
    'tree, kept current with `tree.edit` and an incremental reparse (the row after it).',
  ].join('\n');
  process.stdout.write(`${report}\n`);
  if (process.argv.includes('--write')) writeSection(report);
}

const START = '<!-- bench:lint start (written by npm run bench:lint -- --write) -->';
const END = '<!-- bench:lint end -->';

/** Replaces the figures of the "Linter" section of docs/benchmarks.md, leaving other sections alone. */
function writeSection(report: string): void {
  const file = path.join(ROOT, 'docs', 'benchmarks.md');
  const block = `${START}\n${report}\n${END}`;
  let doc = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  if (doc.includes(START) && doc.includes(END)) {
    doc = doc.slice(0, doc.indexOf(START)) + block + doc.slice(doc.indexOf(END) + END.length);
  } else {
    doc = `${doc.trimEnd()}\n\n## Linter\n\n${block}\n`;
  }
  fs.writeFileSync(file, doc);
  process.stdout.write(`wrote ${path.relative(ROOT, file)}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
