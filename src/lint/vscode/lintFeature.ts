/**
 * The linter in VS Code: a thin layer over the engine (src/lint/linter.ts). It lints open Python
 * documents as they change (debounced, incrementally: each open document keeps its syntax tree),
 * lints the whole workspace on a command, publishes diagnostics (source "TaskScope", code
 * TSKnnn) with the severities of `taskscope.lint.rules`, offers quick fixes, and adds what the
 * agent saw at run time to the diagnostics of the same lines.
 */

import * as path from 'path';
import * as vscode from 'vscode';
import { Commands } from '../../constants';
import { getSetting, registerCommand } from '../../contributes';
import type { Logger } from '../../ipc/agentServer';
import { RuntimeEvidence } from '../evidence';
import { type LintDocument, type LintOptions, Linter } from '../linter';
import { type Finding, isRuleCode, type RuleCode, type Severity, type SeveritySetting } from '../rules';
import { LintCodeActions } from './lintCodeActions';

export const DIAGNOSTIC_SOURCE = 'TaskScope';
const DEBOUNCE_MS = 300;
const WORKSPACE_EXCLUDE = '**/{node_modules,.git,.venv,venv,__pycache__,site-packages}/**';
const SEVERITY: Record<Severity, vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  information: vscode.DiagnosticSeverity.Information,
  hint: vscode.DiagnosticSeverity.Hint,
};

interface OpenDocument {
  readonly lint: LintDocument;
  version: number;
  findings: Finding[];
}

export interface WorkspaceLintSummary {
  readonly files: number;
  readonly findings: number;
}

export class LintFeature implements vscode.Disposable {
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('taskscope-lint');
  private readonly evidence = new RuntimeEvidence();
  private readonly open = new Map<string, OpenDocument>();
  /** The engine's findings (before runtime evidence) of every file with diagnostics, by URI. */
  private readonly findings = new Map<string, { uri: vscode.Uri; findings: Finding[] }>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly disposables: vscode.Disposable[] = [];
  private linter: Promise<Linter | undefined> | undefined;
  private disposed = false;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: Logger,
  ) {
    this.disposables.push(
      this.diagnostics,
      vscode.workspace.onDidOpenTextDocument((d) => this.schedule(d, 0)),
      vscode.workspace.onDidChangeTextDocument((e) => e.contentChanges.length && this.schedule(e.document, DEBOUNCE_MS)),
      vscode.workspace.onDidCloseTextDocument((d) => this.forget(d)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('taskscope.lint')) this.relintAll();
      }),
      vscode.languages.registerCodeActionsProvider({ language: 'python' }, new LintCodeActions(this), {
        providedCodeActionKinds: LintCodeActions.kinds,
      }),
      registerCommand(Commands.lintWorkspace, () => this.lintWorkspace()),
    );
    for (const d of vscode.workspace.textDocuments) this.schedule(d, 0);
  }

  /**
   * Tells the linter what the agent saw for tasks created at `file`:`line` (1-based): `count`
   * events of `kind` (`destroyed-pending`, `fire-and-forget`, ...). A lint diagnostic at that line
   * then says so; evidence where the linter found nothing is logged as a case to learn.
   */
  recordRuntimeEvidence(file: string, line: number, kind: string, count = 1): void {
    this.evidence.record(file, line, kind, count);
    const entry = [...this.findings.values()].find((e) => e.uri.fsPath === path.normalize(file));
    if (entry) this.publish(entry.uri, entry.findings);
    else this.reportMissed(file, []);
  }

  /** Lints a document now (for the code actions: they need findings for the text as it is). */
  async lintNow(document: vscode.TextDocument): Promise<{ lint: LintDocument; findings: Finding[] } | undefined> {
    const key = document.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    if (document.languageId !== 'python' || !this.enabled(document.uri)) {
      this.diagnostics.delete(document.uri);
      this.findings.delete(key);
      return undefined;
    }
    const linter = await this.getLinter();
    if (!linter || this.disposed) return undefined;
    let entry = this.open.get(key);
    if (!entry) {
      entry = { lint: linter.open(document.getText()), version: -1, findings: [] };
      this.open.set(key, entry);
    } else if (entry.version !== document.version) {
      entry.lint.update(document.getText());
    }
    if (entry.version !== document.version) {
      entry.findings = entry.lint.lint(this.options(document.uri)).findings;
      entry.version = document.version;
      this.publish(document.uri, entry.findings);
    }
    return entry;
  }

  /** Lints every `*.py` of the workspace; open documents as they are in the editor. */
  async lintWorkspace(): Promise<WorkspaceLintSummary> {
    const linter = await this.getLinter();
    if (!linter) return { files: 0, findings: 0 };
    const uris = await vscode.workspace.findFiles('**/*.py', WORKSPACE_EXCLUDE);
    let count = 0;
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'TaskScope: linting' }, async (progress) => {
      for (const [i, uri] of uris.entries()) {
        if (this.disposed) return;
        progress.report({ message: `${i + 1}/${uris.length}` });
        const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
        if (open) {
          count += (await this.lintNow(open))?.findings.length ?? 0;
          continue;
        }
        if (!this.enabled(uri)) continue;
        try {
          const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
          const findings = linter.lint(text, this.options(uri)).findings;
          count += findings.length;
          this.publish(uri, findings);
        } catch (e) {
          this.log.warn(`TaskScope lint: cannot read ${uri.fsPath}: ${(e as Error).message}`);
        }
        if (i % 20 === 19) await new Promise((r) => setImmediate(r)); // let the editor breathe
      }
    });
    this.log.info(`TaskScope lint: ${count} finding(s) in ${uris.length} Python file(s) of the workspace`);
    return { files: uris.length, findings: count };
  }

  /** The engine's findings for a document that is open and linted, with the engine document they came from. */
  openDocument(document: vscode.TextDocument): { lint: LintDocument; findings: Finding[] } | undefined {
    const entry = this.open.get(document.uri.toString());
    return entry && entry.version === document.version ? entry : undefined;
  }

  dispose(): void {
    this.disposed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const d of this.open.values()) d.lint.dispose();
    this.open.clear();
    for (const d of this.disposables) d.dispose();
    void this.linter?.then((l) => l?.dispose());
  }

  private getLinter(): Promise<Linter | undefined> {
    this.linter ??= Linter.create({ wasmDir: path.join(this.context.extensionPath, 'dist') }).catch((e: Error) => {
      this.log.error(`TaskScope lint: cannot load the Python parser: ${e.message}`);
      return undefined;
    });
    return this.linter;
  }

  private schedule(document: vscode.TextDocument, delayMs: number): void {
    if (document.languageId !== 'python' || this.disposed) return;
    const key = document.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.lintNow(document).catch((e: Error) => this.log.error(`TaskScope lint: ${document.uri.fsPath}: ${e.stack ?? e.message}`));
      }, delayMs),
    );
  }

  private forget(document: vscode.TextDocument): void {
    const key = document.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.open.get(key)?.lint.dispose();
    this.open.delete(key);
    // A file keeps its diagnostics (it still has those problems); a closed untitled document is gone.
    if (document.uri.scheme !== 'file') {
      this.diagnostics.delete(document.uri);
      this.findings.delete(key);
    }
  }

  private relintAll(): void {
    for (const d of this.open.values()) d.version = -1;
    for (const { uri } of [...this.findings.values()]) {
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
      if (!doc) {
        // A file of a workspace lint that is not open: its severities may have changed too.
        if (!this.enabled(uri)) {
          this.diagnostics.delete(uri);
          this.findings.delete(uri.toString());
        }
      }
    }
    for (const d of vscode.workspace.textDocuments) this.schedule(d, 0);
  }

  private enabled(uri: vscode.Uri): boolean {
    return getSetting('lint.enabled', uri) ?? true;
  }

  private options(uri: vscode.Uri): LintOptions {
    const configured = getSetting('lint.rules', uri) ?? {};
    const rules: Partial<Record<RuleCode, SeveritySetting>> = {};
    for (const [code, value] of Object.entries(configured)) {
      if (isRuleCode(code) && value && ['error', 'warning', 'information', 'hint', 'off'].includes(value)) rules[code] = value;
    }
    return { rules };
  }

  private publish(uri: vscode.Uri, findings: Finding[]): void {
    this.findings.set(uri.toString(), { uri, findings });
    const annotated = this.evidence.annotate(uri.fsPath, findings);
    this.diagnostics.set(uri, annotated.map(toDiagnostic));
    if (this.evidence.has(uri.fsPath)) this.reportMissed(uri.fsPath, findings);
  }

  private readonly reported = new Set<string>();

  private reportMissed(file: string, findings: Finding[]): void {
    for (const e of this.evidence.unmatched(file, findings)) {
      const key = `${e.file}:${e.line}:${e.kind}`;
      if (this.reported.has(key)) continue;
      this.reported.add(key);
      this.log.info(`TaskScope lint: at run time, ${e.kind} (${e.count}) at ${e.file}:${e.line}, where the linter found nothing: a case to add to test/lint/`);
    }
  }
}

export function toDiagnostic(f: Finding): vscode.Diagnostic {
  const d = new vscode.Diagnostic(new vscode.Range(f.line, f.column, f.endLine, f.endColumn), f.message, SEVERITY[f.severity]);
  d.source = DIAGNOSTIC_SOURCE;
  d.code = f.code;
  return d;
}
