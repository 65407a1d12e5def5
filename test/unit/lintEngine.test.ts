// The lint engine beyond the corpus: quick fixes (text in, text out, re-lint), incremental
// re-lint against a full lint, suppression, severities, syntax errors, runtime evidence.
import * as assert from 'assert';
import * as path from 'path';
import { generateModule } from '../../bench/lint/generate';
import { applyEdits } from '../../src/lint/fixes';
import { outline } from '../../src/lint/outline';
import { RuntimeEvidence } from '../../src/lint/evidence';
import { type LintResult, Linter } from '../../src/lint/linter';
import type { Finding } from '../../src/lint/rules';
import { readCorpus } from '../lint/marks';
import { REPO_ROOT } from './repo';

const corpus = readCorpus(path.join(REPO_ROOT, 'test', 'lint'));
const brief = (r: LintResult) => r.findings.map((f) => `${f.line + 1}:${f.column + 1}-${f.endLine + 1}:${f.endColumn + 1} ${f.code} ${f.severity} ${f.message}`);
const countByCode = (findings: readonly Finding[]) => findings.reduce<Record<string, number>>((m, f) => ({ ...m, [f.code]: (m[f.code] ?? 0) + 1 }), {});

describe('lint engine', () => {
  let linter: Linter;
  before(async () => {
    linter = await Linter.create();
  });
  after(() => linter?.dispose());

  describe('quick fixes', () => {
    const lint = (text: string) => linter.lint(text).findings;
    const fix = (text: string, title: RegExp) => {
      const [finding] = lint(text).filter((f) => f.code === 'TSK001' || f.code === 'TSK002');
      assert.ok(finding, 'no finding to fix');
      const chosen = linter.fixes(text, finding).find((f) => title.test(f.title));
      assert.ok(chosen, `no fix ${title} among ${linter.fixes(text, finding).map((f) => f.title)}`);
      return applyEdits(text, chosen.edits);
    };

    it('awaits a discarded task', () => {
      const before = 'import asyncio\n\n\nasync def main(job):\n    asyncio.create_task(job())\n';
      const after = fix(before, /^Await/);
      assert.strictEqual(after, 'import asyncio\n\n\nasync def main(job):\n    await asyncio.create_task(job())\n');
      assert.deepStrictEqual(lint(after), []);
    });

    it('keeps a discarded task in a module-level set, created once after the imports', () => {
      const before = [
        '"""Doc."""',
        'import asyncio',
        '',
        '',
        'async def main(job):',
        '    asyncio.create_task(job())',
        '    asyncio.create_task(job())',
        '',
      ].join('\n');
      const once = fix(before, /^Keep/);
      assert.strictEqual(
        once,
        [
          '"""Doc."""',
          'import asyncio',
          '',
          '_background_tasks = set()  # strong references to running background tasks; each discards itself when done',
          '',
          '',
          'async def main(job):',
          '    task = asyncio.create_task(job())',
          '    _background_tasks.add(task)',
          '    task.add_done_callback(_background_tasks.discard)',
          '    asyncio.create_task(job())',
          '',
        ].join('\n'),
      );
      const twice = fix(once, /^Keep/);
      assert.strictEqual(twice.match(/_background_tasks = set\(\)/g)?.length, 1, 'the set is created once');
      assert.match(twice, /task_2 = asyncio\.create_task\(job\(\)\)\n    _background_tasks\.add\(task_2\)/);
      assert.deepStrictEqual(lint(twice), []);
    });

    it('keeps a task bound to an unused name, and one only used for a done callback', () => {
      const bound = fix('import asyncio\n\ndef start(job):\n    t = asyncio.ensure_future(job())\n', /^Keep/);
      assert.match(bound, /    t = asyncio\.ensure_future\(job\(\)\)\n    _background_tasks\.add\(t\)\n    t\.add_done_callback\(_background_tasks\.discard\)/);
      assert.deepStrictEqual(lint(bound), []);
      const chained = fix('import asyncio\n\ndef start(job, cb):\n    asyncio.create_task(job()).add_done_callback(cb)\n', /^Keep/);
      assert.match(chained, /task = asyncio\.create_task\(job\(\)\)\n.*\n.*\n    task\.add_done_callback\(cb\)/);
      assert.deepStrictEqual(lint(chained), []);
    });

    it('adds await to a coroutine call', () => {
      const after = fix('async def ping():\n    pass\n\n\nasync def main():\n    if ping():\n        pass\n', /^Add `await`/);
      assert.match(after, /if await ping\(\):/);
      assert.deepStrictEqual(lint(after), []);
    });

    it('offers no await outside async functions', () => {
      const text = 'import asyncio\n\n\ndef main(job):\n    asyncio.create_task(job())\n';
      const titles = linter.fixes(text, lint(text)[0]).map((f) => f.title);
      assert.ok(!titles.some((t) => /await/i.test(t)), titles.join());
      assert.ok(titles.some((t) => /^Keep/.test(t)));
    });

    for (const file of corpus) {
      it(`${file.name}: every fix offered removes its finding and adds none`, () => {
        const before = linter.lint(file.text);
        const counts = countByCode(before.findings);
        for (const finding of before.findings) {
          for (const f of linter.fixes(file.text, finding)) {
            const text = applyEdits(file.text, f.edits);
            const after = linter.lint(text);
            const expected = { ...counts, [finding.code]: counts[finding.code] - 1 };
            if (!expected[finding.code]) delete expected[finding.code];
            assert.deepStrictEqual(countByCode(after.findings), expected, `${file.name}:${finding.line + 1} "${f.title}"`);
            assert.strictEqual(after.syntaxError !== undefined, before.syntaxError !== undefined, `${f.title} broke the syntax`);
          }
        }
      });
    }
  });

  describe('incremental re-lint', () => {
    const edits: [string, (text: string) => string][] = [
      ['inserts a line', (t) => t.replace('\n\n', '\n\nimport time\n')],
      ['deletes a line', (t) => t.split('\n').filter((_, i) => i !== 12).join('\n')],
      ['changes one character', (t) => t.replace('create_task', 'create_tusk')],
      ['adds a dangling task at the end', (t) => `${t}\n\nasync def extra(job):\n    asyncio.create_task(job())\n`],
      ['breaks the syntax', (t) => t.replace('def ', 'def (')],
      ['inserts non-ASCII text', (t) => t.replace('\n', '\n# é 😀 ü\n')],
      ['removes the imports', (t) => t.replace(/^import .*$/gm, '')],
    ];
    for (const file of corpus) {
      it(`${file.name}: equals a full lint after every edit`, () => {
        const doc = linter.open(file.text);
        try {
          assert.deepStrictEqual(brief(doc.lint()), brief(linter.lint(file.text)));
          let text = file.text;
          for (const [what, edit] of edits) {
            text = edit(text);
            doc.update(text);
            assert.deepStrictEqual(brief(doc.lint()), brief(linter.lint(text, { checkSyntax: true })), `after the edit that ${what}`);
            const first = doc.lint().findings.find((f) => f.code === 'TSK001' || f.code === 'TSK002');
            if (first) assert.deepStrictEqual(doc.fixes(first), linter.fixes(text, first), `fixes from the edited tree, after the edit that ${what}`);
          }
          doc.update(file.text);
          assert.deepStrictEqual(brief(doc.lint()), brief(linter.lint(file.text)), 'back to the start');
        } finally {
          doc.dispose();
        }
      });
    }
  });

  describe('outline (what a one-shot lint parses)', () => {
    const text = [
      'import asyncio  # (',
      's = """ ( [ { """',
      '',
      '@decorator(',
      '    "x")',
      'class A(',
      '        Base):',
      '    x = [1,',
      '         2]',
      '',
      '    @staticmethod',
      '    def f():',
      '        return "\\"("',
      '',
      '    class B:',
      '        y = 1 + \\',
      '            2',
      '',
      'async def main():',
      '    pass',
      '',
    ].join('\n');
    const classA = '@decorator(\n    "x")\nclass A(\n        Base):';

    it('splits a module into its statements, class bodies opened up, with their class headers', () => {
      const units = outline(text)!;
      const show = (r: { start: number; end: number }) => text.slice(r.start, r.end).trimEnd();
      assert.deepStrictEqual(
        units.map((u) => [show(u), u.headers.map(show)]),
        [
          ['import asyncio  # (', []],
          ['s = """ ( [ { """', []],
          ['    x = [1,\n         2]', [classA]],
          ['    @staticmethod\n    def f():\n        return "\\"("', [classA]],
          ['        y = 1 + \\\n            2', [classA, '    class B:']],
          ['async def main():\n    pass', []],
        ],
      );
    });

    it('gives up on text it does not understand (the linter then parses everything)', () => {
      assert.strictEqual(outline('x = (1,\n'), undefined);
      assert.strictEqual(outline('x = "open\n'), undefined);
      assert.strictEqual(outline('    indented = 1\n'), undefined);
    });

    it('finds the same as a whole parse, on every corpus file and on the benchmark module', () => {
      for (const file of corpus) {
        assert.deepStrictEqual(brief(linter.lint(file.text)), brief(linter.lint(file.text, { checkSyntax: true })), file.name);
      }
      const big = generateModule(3000).text;
      const sparse = linter.lint(big);
      assert.ok(sparse.findings.length > 10);
      assert.deepStrictEqual(brief(sparse), brief(linter.lint(big, { checkSyntax: true })));
    });
  });

  describe('options and suppression', () => {
    const text = 'import asyncio\nimport time\n\n\nasync def main(job):\n    asyncio.create_task(job())\n    time.sleep(1)\n';

    it('uses the default severities', () => {
      assert.deepStrictEqual(
        linter.lint(text).findings.map((f) => [f.code, f.severity]),
        [
          ['TSK001', 'warning'],
          ['TSK004', 'warning'],
        ],
      );
    });

    it('changes severities and turns rules off', () => {
      const r = linter.lint(text, { rules: { TSK001: 'error', TSK004: 'off' } });
      assert.deepStrictEqual(
        r.findings.map((f) => [f.code, f.severity]),
        [['TSK001', 'error']],
      );
    });

    it('honours # taskscope: ignore[...] and # noqa: RUF006 on the line, and only for the codes named', () => {
      const lint = (suffix1: string, suffix2: string) => linter.lint(text.replace('job())', `job())${suffix1}`).replace('sleep(1)', `sleep(1)${suffix2}`)).findings.map((f) => f.code);
      assert.deepStrictEqual(lint('  # taskscope: ignore[TSK001]', ''), ['TSK004']);
      assert.deepStrictEqual(lint('  # noqa: RUF006', '  # noqa: RUF006'), ['TSK004']);
      assert.deepStrictEqual(lint('  # taskscope: ignore', '  # taskscope: ignore[tsk004]'), []);
      assert.deepStrictEqual(lint('  # noqa', '  # taskscope: ignore[TSK001]'), ['TSK001', 'TSK004']);
    });

    it('reports where the text stops parsing, and still lints the rest', () => {
      const r = linter.lint('import asyncio\n\ndef broken(:\n    pass\n\nasync def main(job):\n    asyncio.create_task(job())\n');
      assert.deepStrictEqual(r.syntaxError && r.syntaxError.line, 2);
      assert.deepStrictEqual(r.findings.map((f) => [f.code, f.line]), [['TSK001', 6]]);
    });

    it('gives 0-based lines and UTF-16 columns', () => {
      const [f] = linter.lint('import asyncio\nasync def f(j):\n    x = "é😀"; asyncio.create_task(j())\n').findings;
      assert.deepStrictEqual([f.line, f.column, f.endLine, f.endColumn], [2, 15, 2, 39]);
    });
  });

  describe('runtime evidence', () => {
    const file = path.join(REPO_ROOT, 'test', 'lint', 'tsk001_dropped.py');
    const text = corpus.find((f) => f.name === 'tsk001_dropped.py')!.text;
    const line = text.split('\n').findIndex((l) => l.includes('asyncio.ensure_future(fetch(2))')) + 1;

    it('annotates findings at lines where the agent saw tasks die', () => {
      const evidence = new RuntimeEvidence();
      evidence.record(file, line, 'destroyed-pending', 2);
      evidence.record(file, line, 'destroyed-pending', 1);
      evidence.record(file, line, 'loop-blocked', 4);
      const findings = evidence.annotate(file, linter.lint(text).findings);
      const annotated = findings.filter((f) => /seen at runtime/.test(f.message));
      assert.strictEqual(annotated.length, 1);
      assert.strictEqual(annotated[0].line + 1, line);
      assert.match(annotated[0].message, /\(seen at runtime: 3 tasks destroyed while pending\)$/);
    });

    it('lists runtime findings the linter missed, as cases to learn', () => {
      const evidence = new RuntimeEvidence();
      evidence.record(file, 2, 'fire-and-forget', 1);
      evidence.record(file, line, 'fire-and-forget', 1);
      evidence.record(file, 3, 'stuck', 1);
      assert.deepStrictEqual(evidence.unmatched(file, linter.lint(text).findings), [{ file, line: 2, kind: 'fire-and-forget', count: 1 }]);
    });
  });
});
