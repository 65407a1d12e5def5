/**
 * Quick fixes for the linter's diagnostics: the engine's fixes (src/lint/fixes.ts) turned into
 * workspace edits, plus "ignore on this line" for every rule.
 */

import * as vscode from 'vscode';
import type { Fix } from '../fixes';
import type { LintDocument } from '../linter';
import type { Finding } from '../rules';

/** What the code actions need from the feature (an interface, so tests can hand in a fake). */
export interface LintedDocuments {
  lintNow(document: vscode.TextDocument): Promise<{ lint: LintDocument; findings: Finding[] } | undefined>;
}

export class LintCodeActions implements vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix];

  constructor(private readonly documents: LintedDocuments) {}

  async provideCodeActions(document: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): Promise<vscode.CodeAction[]> {
    const ours = context.diagnostics.filter((d) => d.source === 'TaskScope');
    if (!ours.length) return [];
    const linted = await this.documents.lintNow(document);
    if (!linted) return [];
    const actions: vscode.CodeAction[] = [];
    for (const diagnostic of ours) {
      const finding = linted.findings.find(
        (f) =>
          f.code === diagnostic.code &&
          f.line === diagnostic.range.start.line &&
          f.column === diagnostic.range.start.character &&
          f.endLine === diagnostic.range.end.line &&
          f.endColumn === diagnostic.range.end.character,
      );
      if (!finding) continue;
      for (const fix of linted.lint.fixes(finding)) actions.push(toAction(document, fix, diagnostic));
      actions.push(ignoreAction(document, finding, diagnostic));
    }
    return actions;
  }
}

function toAction(document: vscode.TextDocument, fix: Fix, diagnostic: vscode.Diagnostic): vscode.CodeAction {
  const action = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
  action.diagnostics = [diagnostic];
  action.isPreferred = fix.isPreferred;
  action.edit = new vscode.WorkspaceEdit();
  for (const e of fix.edits) action.edit.replace(document.uri, new vscode.Range(document.positionAt(e.start), document.positionAt(e.end)), e.newText);
  return action;
}

function ignoreAction(document: vscode.TextDocument, finding: Finding, diagnostic: vscode.Diagnostic): vscode.CodeAction {
  const action = new vscode.CodeAction(`Ignore ${finding.code} on this line`, vscode.CodeActionKind.QuickFix);
  action.diagnostics = [diagnostic];
  action.edit = new vscode.WorkspaceEdit();
  const line = document.lineAt(finding.line);
  const existing = /#[ \t]*taskscope:[ \t]*ignore\[([^\]]*)\]/.exec(line.text);
  if (existing) {
    const start = line.range.start.translate(0, existing.index + existing[0].length - 1);
    action.edit.insert(document.uri, start, `, ${finding.code}`);
  } else {
    action.edit.insert(document.uri, line.range.end, `  # taskscope: ignore[${finding.code}]`);
  }
  return action;
}
