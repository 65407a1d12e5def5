// The bundled command line, as CI would run it: node dist/lint-cli.js after node esbuild.js.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT } from './repo';

const CLI = path.join(REPO_ROOT, 'dist', 'lint-cli.js');

function run(args: string[], cwd = REPO_ROOT) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('taskscope-lint (dist/lint-cli.js)', function () {
  this.timeout(120000);
  let dir: string;

  before(() => {
    const build = spawnSync(process.execPath, ['esbuild.js'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 110000 });
    assert.strictEqual(build.status, 0, build.stderr);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskscope-lint-'));
    fs.mkdirSync(path.join(dir, 'pkg', 'sub'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'pkg', '.venv'));
    fs.writeFileSync(path.join(dir, 'pkg', 'clean.py'), 'import asyncio\n\n\nasync def main():\n    await asyncio.sleep(0)\n');
    fs.writeFileSync(path.join(dir, 'pkg', 'sub', 'dangling.py'), 'import asyncio\n\n\nasync def main(job):\n    asyncio.create_task(job())\n');
    fs.writeFileSync(path.join(dir, 'pkg', 'sub', 'notes.txt'), 'asyncio.create_task(job())\n');
    fs.writeFileSync(path.join(dir, 'pkg', '.venv', 'lib.py'), 'import asyncio\nasyncio.create_task(x())\n');
    fs.writeFileSync(path.join(dir, 'broken.py'), 'import asyncio\ndef broken(:\n    pass\nasyncio.ensure_future(x())\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('ships the WASM files next to the bundle', () => {
    for (const f of ['web-tree-sitter.wasm', 'tree-sitter-python.wasm']) assert.ok(fs.existsSync(path.join(REPO_ROOT, 'dist', f)), f);
  });

  it('exits 0 and says so when nothing is found', () => {
    const r = run(['pkg/clean.py'], dir);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.strictEqual(r.stdout, 'No problems in 1 file.\n');
  });

  it('recurses into directories for *.py, skipping hidden folders, and exits 1 on findings (text)', () => {
    const r = run(['pkg'], dir);
    assert.strictEqual(r.code, 1, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^pkg[/\\]sub[/\\]dangling\.py:5:5: TSK001 \[warning\] Dangling task: /);
    assert.strictEqual(lines[1], 'Found 1 problem in 2 files.');
  });

  it('writes one JSON array of 1-based findings', () => {
    const r = run(['--format', 'json', 'pkg'], dir);
    assert.strictEqual(r.code, 1);
    const findings = JSON.parse(r.stdout);
    assert.strictEqual(findings.length, 1);
    assert.deepStrictEqual(Object.keys(findings[0]).sort(), ['code', 'column', 'endColumn', 'endLine', 'file', 'line', 'message', 'severity']);
    assert.deepStrictEqual(
      { ...findings[0], message: undefined },
      { file: path.join('pkg', 'sub', 'dangling.py'), line: 5, column: 5, endLine: 5, endColumn: 31, code: 'TSK001', severity: 'warning', message: undefined },
    );
    assert.strictEqual(run(['--format=json', 'pkg/clean.py'], dir).stdout.trim(), '[]');
  });

  it('writes SARIF 2.1.0 with the rules and results', () => {
    const r = run(['--format', 'sarif', 'pkg'], dir);
    assert.strictEqual(r.code, 1);
    const sarif = JSON.parse(r.stdout);
    assert.strictEqual(sarif.version, '2.1.0');
    const run0 = sarif.runs[0];
    assert.deepStrictEqual(run0.tool.driver.rules.map((x: { id: string }) => x.id), ['TSK001', 'TSK002', 'TSK003', 'TSK004', 'TSK005']);
    assert.strictEqual(run0.results.length, 1);
    assert.strictEqual(run0.results[0].ruleId, 'TSK001');
    assert.strictEqual(run0.results[0].level, 'warning');
    assert.deepStrictEqual(run0.results[0].locations[0].physicalLocation.region, { startLine: 5, startColumn: 5, endLine: 5, endColumn: 31 });
    assert.strictEqual(run0.results[0].locations[0].physicalLocation.artifactLocation.uri, 'pkg/sub/dangling.py');
  });

  it('lints a file that does not parse as far as it can, and says so on stderr', () => {
    const r = run(['--format', 'json', 'broken.py'], dir);
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /^broken\.py:2:\d+: syntax error; the rest of the file was checked/m);
    assert.deepStrictEqual(JSON.parse(r.stdout).map((f: { code: string; line: number }) => [f.code, f.line]), [['TSK001', 4]]);
  });

  it('exits 2 on usage errors, with a message and the usage', () => {
    for (const args of [[], ['--format', 'xml', 'pkg'], ['--bogus', 'pkg'], ['--format']]) {
      const r = run(args, dir);
      assert.strictEqual(r.code, 2, args.join(' '));
      assert.match(r.stderr, /^taskscope-lint: .+\n\nusage: taskscope-lint/, args.join(' '));
      assert.strictEqual(r.stdout, '');
    }
    assert.strictEqual(run(['--help']).code, 0);
  });

  it('exits 2 on a path that cannot be read, after linting the others', () => {
    const r = run(['--format', 'json', 'missing.py', 'pkg'], dir);
    assert.strictEqual(r.code, 2);
    assert.match(r.stderr, /cannot read missing\.py: ENOENT/);
    assert.strictEqual(JSON.parse(r.stdout).length, 1);
  });
});
