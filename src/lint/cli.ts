/**
 * `taskscope-lint [--format text|json|sarif] PATH...`: lints Python files (directories are
 * searched for `*.py`). Exit code 0 when nothing is found, 1 when something is, 2 on a usage
 * error or a path that cannot be read. Findings go to standard output; notes about files (a
 * syntax error, an unreadable path) go to standard error, so JSON and SARIF stay parseable.
 */

import * as fs from 'fs';
import * as path from 'path';
import { Linter } from './linter';
import { type FileFindings, formatSarif, formatText, toJson } from './report';

const FORMATS = ['text', 'json', 'sarif'] as const;
type Format = (typeof FORMATS)[number];
/** Folders never searched: tools' caches, virtual environments, dependencies. */
const SKIPPED_DIRS = new Set(['node_modules', '__pycache__', 'venv', 'site-packages']);
const VERSION = '0.1.0';

const USAGE = `usage: taskscope-lint [--format text|json|sarif] PATH...

Finds asyncio mistakes in Python files: dangling tasks (TSK001), coroutines never awaited
(TSK002), swallowed cancellation (TSK003), blocking calls in async functions (TSK004) and
background-task sets that never discard (TSK005). Directories are searched for *.py files.

Exit status: 0 nothing found, 1 something found, 2 usage error or unreadable path.
Silence a line with "# taskscope: ignore[TSK001]" ("# noqa: RUF006" also silences TSK001).
`;

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

class UsageError extends Error {}

function parseArgs(args: string[]): { format: Format; paths: string[]; help: boolean } {
  let format: Format = 'text';
  const paths: string[] = [];
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') {
      paths.push(...args.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') help = true;
    else if (arg === '--format' || arg.startsWith('--format=')) {
      const value = arg === '--format' ? args[++i] : arg.slice('--format='.length);
      if (!FORMATS.includes(value as Format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}${value ? `, not "${value}"` : ''}`);
      format = value as Format;
    } else if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg}`);
    else paths.push(arg);
  }
  if (!help && paths.length === 0) throw new UsageError('no PATH given');
  return { format, paths, help };
}

/** The Python files under `p` (or `p` itself), sorted; throws when `p` cannot be read. */
function pythonFiles(p: string): string[] {
  const stat = fs.statSync(p);
  if (!stat.isDirectory()) return [p];
  const out: string[] = [];
  for (const entry of fs.readdirSync(p, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const child = path.join(p, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith('.') && !SKIPPED_DIRS.has(entry.name)) out.push(...pythonFiles(child));
    } else if (entry.name.endsWith('.py') || entry.name.endsWith('.pyi')) out.push(child);
  }
  return out;
}

/** Runs the command line; resolves to the exit code. */
export async function runCli(args: string[], io: CliIo): Promise<number> {
  let options: ReturnType<typeof parseArgs>;
  try {
    options = parseArgs(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`taskscope-lint: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    io.stdout(USAGE);
    return 0;
  }
  let unreadable = false;
  const files: string[] = [];
  for (const p of options.paths) {
    try {
      files.push(...pythonFiles(p));
    } catch (e) {
      io.stderr(`taskscope-lint: cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
      unreadable = true;
    }
  }
  const linter = await Linter.create();
  const results: FileFindings[] = [];
  try {
    for (const file of files) {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (e) {
        io.stderr(`taskscope-lint: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
        unreadable = true;
        continue;
      }
      const result = linter.lint(text, { checkSyntax: true });
      if (result.syntaxError) {
        const { line, column } = result.syntaxError;
        io.stderr(`${file}:${line + 1}:${column + 1}: syntax error; the rest of the file was checked as far as the parser could recover\n`);
      }
      results.push({ file, findings: result.findings });
    }
  } finally {
    linter.dispose();
  }
  const count = results.reduce((n, r) => n + r.findings.length, 0);
  if (options.format === 'json') io.stdout(JSON.stringify(toJson(results), null, 2) + '\n');
  else if (options.format === 'sarif') io.stdout(JSON.stringify(formatSarif(results, VERSION), null, 2) + '\n');
  else {
    io.stdout(formatText(results));
    const where = `${results.length} file${results.length === 1 ? '' : 's'}`;
    io.stdout(count ? `Found ${count} problem${count === 1 ? '' : 's'} in ${where}.\n` : `No problems in ${where}.\n`);
  }
  if (unreadable) return 2;
  return count > 0 ? 1 : 0;
}

if (require.main === module) {
  runCli(process.argv.slice(2), { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) }).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`taskscope-lint: ${(e as Error).stack ?? e}\n`);
      process.exitCode = 2;
    },
  );
}
