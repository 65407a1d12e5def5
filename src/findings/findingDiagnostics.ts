/**
 * Runtime findings in the editor: one diagnostic per finding at the line that created the
 * task (source "TaskScope"; a blocked loop's when the running task's creation is known, else
 * the blocking line), with related information for the other places that matter; and for a
 * blocked event loop, a mark in the gutter at the blocking line with a hover that says for
 * how long and in which task.
 */

import * as vscode from 'vscode';
import { Finding, FindingStore, findingTitle, placeOf } from '../model/findings';
import { formatDuration } from '../views/taskTreeProvider';

const SEVERITY: Record<string, vscode.DiagnosticSeverity> = {
  'exception-never-retrieved': vscode.DiagnosticSeverity.Error,
  'destroyed-pending': vscode.DiagnosticSeverity.Warning,
  'fire-and-forget': vscode.DiagnosticSeverity.Warning,
  'loop-blocked': vscode.DiagnosticSeverity.Warning,
  orphan: vscode.DiagnosticSeverity.Information,
  stuck: vscode.DiagnosticSeverity.Information,
};

const REFRESH_DELAY_MS = 150;

function lineRange(line: number): vscode.Range {
  const l = Math.max(line - 1, 0);
  return new vscode.Range(l, 0, l, Number.MAX_SAFE_INTEGER);
}

export function diagnosticFor(finding: Finding): vscode.Diagnostic | undefined {
  const place = placeOf(finding);
  if (!place) return undefined;
  const repeat = finding.count > 1 ? ` (seen ${finding.count} times)` : '';
  const diagnostic = new vscode.Diagnostic(
    lineRange(place.line),
    `${findingTitle(finding.kind)}: ${finding.message}${repeat}`,
    SEVERITY[finding.kind] ?? vscode.DiagnosticSeverity.Information,
  );
  diagnostic.source = 'TaskScope';
  diagnostic.code = finding.kind;
  diagnostic.relatedInformation = finding.related.map(
    (r) => new vscode.DiagnosticRelatedInformation(new vscode.Location(vscode.Uri.file(r.frame.file), lineRange(r.frame.line)), `${r.note}: ${r.frame.function}`),
  );
  return diagnostic;
}

export class FindingDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('taskscope');
  private readonly blockedDecoration: vscode.TextEditorDecorationType;
  private readonly subscriptions: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** What the visible editors were last given, by file (decorations cannot be read back). */
  private readonly marks = new Map<string, readonly vscode.DecorationOptions[]>();

  constructor(
    private readonly store: FindingStore,
    extensionUri: vscode.Uri,
  ) {
    this.blockedDecoration = vscode.window.createTextEditorDecorationType({
      gutterIconPath: vscode.Uri.joinPath(extensionUri, 'media', 'loop-blocked.svg'),
      gutterIconSize: 'contain',
      overviewRulerColor: new vscode.ThemeColor('editorWarning.foreground'),
      overviewRulerLane: vscode.OverviewRulerLane.Right,
      isWholeLine: true,
      backgroundColor: new vscode.ThemeColor('diffEditor.removedLineBackground'),
    });
    const listener = store.onDidChange(() => this.schedule());
    this.subscriptions.push(listener, vscode.window.onDidChangeVisibleTextEditors(() => this.decorate()));
    this.refresh();
  }

  /** Rebuilds every diagnostic and decoration now (the view calls it through a debounce). */
  refresh(): void {
    const byFile = new Map<string, vscode.Diagnostic[]>();
    for (const finding of this.store.all()) {
      const diagnostic = diagnosticFor(finding);
      const place = placeOf(finding);
      if (!diagnostic || !place) continue;
      let list = byFile.get(place.file);
      if (!list) byFile.set(place.file, (list = []));
      list.push(diagnostic);
    }
    this.collection.clear();
    for (const [file, diagnostics] of byFile) this.collection.set(vscode.Uri.file(file), diagnostics);
    this.decorate();
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.subscriptions) s.dispose();
    this.collection.dispose();
    this.blockedDecoration.dispose();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refresh();
    }, REFRESH_DELAY_MS);
  }

  /** The blocked-loop marks of a file's editors: their lines and hovers. */
  blockedMarks(uri: vscode.Uri): readonly vscode.DecorationOptions[] {
    return this.marks.get(uri.fsPath) ?? [];
  }

  private decorate(): void {
    const blocked = this.store.ofKind('loop-blocked');
    this.marks.clear();
    for (const editor of vscode.window.visibleTextEditors) {
      const file = editor.document.uri.fsPath;
      const options: vscode.DecorationOptions[] = [];
      for (const finding of blocked) {
        if (finding.site?.file !== file) continue;
        const ms = Number(finding.evidence.blockedMs);
        const hover = new vscode.MarkdownString(
          `**TaskScope: the event loop was blocked here** for ${Number.isFinite(ms) ? formatDuration(ms) : 'a while'}` +
            (finding.count > 1 ? ` (${finding.count} times)` : '') +
            `\n\n${finding.message}`,
        );
        options.push({ range: lineRange(finding.site.line), hoverMessage: hover });
      }
      editor.setDecorations(this.blockedDecoration, options);
      this.marks.set(file, options);
    }
  }
}
