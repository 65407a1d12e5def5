/**
 * The "Findings" view: runtime findings grouped by kind, with counts; a click opens the line
 * the finding is about.
 */

import * as path from 'path';
import * as vscode from 'vscode';
import { Commands } from '../constants';
import { Finding, FindingStore, findingTitle, shownPlace } from '../model/findings';

export type FindingsViewNode = { readonly kind: 'group'; readonly findingKind: string } | { readonly kind: 'finding'; readonly finding: Finding };

const KIND_ICONS: Record<string, string> = {
  'fire-and-forget': 'flame',
  'destroyed-pending': 'trash',
  'exception-never-retrieved': 'error',
  orphan: 'debug-disconnect',
  stuck: 'clock',
  'loop-blocked': 'debug-pause',
};

export class FindingsTreeProvider implements vscode.TreeDataProvider<FindingsViewNode>, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<FindingsViewNode | undefined>();
  readonly onDidChangeTreeData = this.changeEmitter.event;
  private readonly groups = new Map<string, FindingsViewNode>();
  private readonly rows = new Map<string, FindingsViewNode>();
  private readonly listener: { dispose(): void };
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly store: FindingStore) {
    this.listener = store.onDidChange(() => {
      if (this.timer) return;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.changeEmitter.fire(undefined);
      }, 150);
    });
  }

  getChildren(element?: FindingsViewNode): FindingsViewNode[] {
    if (!element) {
      return this.store.kinds().map((k) => {
        let node = this.groups.get(k);
        if (!node) this.groups.set(k, (node = { kind: 'group', findingKind: k }));
        return node;
      });
    }
    if (element.kind === 'finding') return [];
    return this.store
      .ofKind(element.findingKind)
      .sort((a, b) => b.last - a.last)
      .map((f) => {
        let node = this.rows.get(f.id);
        if (!node) this.rows.set(f.id, (node = { kind: 'finding', finding: f }));
        return node;
      });
  }

  getTreeItem(element: FindingsViewNode): vscode.TreeItem {
    if (element.kind === 'group') {
      const findings = this.store.ofKind(element.findingKind);
      const total = findings.reduce((n, f) => n + f.count, 0);
      const item = new vscode.TreeItem(findingTitle(element.findingKind), vscode.TreeItemCollapsibleState.Expanded);
      item.id = `kind:${element.findingKind}`;
      item.description = `${total}`;
      item.iconPath = new vscode.ThemeIcon(KIND_ICONS[element.findingKind] ?? 'warning');
      item.contextValue = 'findingGroup';
      return item;
    }
    const f = element.finding;
    const at = shownPlace(f);
    const item = new vscode.TreeItem(f.message, vscode.TreeItemCollapsibleState.None);
    item.id = `finding:${f.id}`;
    item.description = [at ? `${path.basename(at.file)}:${at.line}` : '', f.count > 1 ? `×${f.count}` : ''].filter(Boolean).join(' ');
    item.tooltip = new vscode.MarkdownString(
      `**${findingTitle(f.kind)}**\n\n${f.message}` +
        (at ? `\n\nat \`${at.file}:${at.line}\`` : '') +
        (f.count > 1 ? `\n\nseen ${f.count} times` : '') +
        f.related.map((r) => `\n\n${r.note}: \`${path.basename(r.frame.file)}:${r.frame.line}\` in \`${r.frame.function}\``).join(''),
    );
    item.contextValue = 'finding';
    if (at) {
      item.command = { command: Commands.openFinding, title: 'Open', arguments: [element] };
    }
    return item;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.listener.dispose();
    this.changeEmitter.dispose();
  }
}
