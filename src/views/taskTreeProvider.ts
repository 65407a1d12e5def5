/**
 * The "Tasks" view: processes at the top, then (when a process runs several event loops) its
 * loops, then its tasks as the arrangement orders them (by creator, by awaiter, or flat;
 * see arrangement.ts). It refreshes only the rows a change touched, batched, so a busy
 * program does not flood the view. Rows have stable ids, so expansion and selection survive
 * updates.
 */

import * as path from 'path';
import * as vscode from 'vscode';
import { Commands } from '../constants';
import type { FindingStore } from '../model/findings';
import type { ModelChange, ProcessInfo, TaskModel } from '../model/taskModel';
import type { Frame, TaskRecord, TaskState } from '../protocol/messages';
import { coarseDuration, describeFrame, formatDuration, taskDescription } from './taskText';

export { coarseDuration, describeFrame, formatDuration, taskDescription };
import { ArrangeOptions, FoldNode, JoinNode, TaskArrangement, TaskNode, ViewNode } from './arrangement';

export type { ViewNode as TasksViewNode } from './arrangement';

/** How long changes are gathered before the view is told (one refresh per window). */
const REFRESH_DELAY_MS = 100;
/** Past this many changed rows in one window, one full refresh is cheaper than many small ones. */
const MAX_TARGETED_REFRESHES = 200;
/** Wait durations in rows are redrawn this often (only while the view is shown and small enough). */
const DURATION_REDRAW_MS = 5_000;
const DURATION_REDRAW_MAX_TASKS = 5_000;

const FLAGGED_ICON = new vscode.ThemeIcon('warning', new vscode.ThemeColor('editorWarning.foreground'));

const STATE_ICONS: Record<TaskState, vscode.ThemeIcon> = {
  running: new vscode.ThemeIcon('play-circle', new vscode.ThemeColor('debugIcon.startForeground')),
  pending: new vscode.ThemeIcon('watch'),
  done: new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed')),
  cancelled: new vscode.ThemeIcon('circle-slash', new vscode.ThemeColor('disabledForeground')),
  failed: new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
};

/** A process that exited is history: its tasks are drawn greyed. */
const EXITED_ICONS = Object.fromEntries(
  Object.entries(STATE_ICONS).map(([state, icon]) => [state, new vscode.ThemeIcon(icon.id, new vscode.ThemeColor('disabledForeground'))]),
) as Record<TaskState, vscode.ThemeIcon>;

function frameLink(frame: Frame): string {
  const uri = vscode.Uri.file(frame.file).with({ fragment: `L${Math.max(frame.line, 1)}` });
  return `[${describeFrame(frame)}](${uri.toString()})`;
}

function escape(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}

export function taskTooltip(task: TaskRecord, now = Date.now()): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**${escape(task.name)}** · \`${escape(task.coro)}\` · ${task.state}\n\n`);
  if (task.exception) md.appendMarkdown(`${escape(task.exception.type)}: ${escape(task.exception.message)}\n\n`);
  if (task.cancelMessage) md.appendMarkdown(`Cancelled: ${escape(task.cancelMessage)}\n\n`);
  if (task.site) {
    md.appendMarkdown(`Created in \`${escape(task.site.function)}\` at ${frameLink(task.site)}\n\n`);
  } else {
    md.appendMarkdown('Creation site unknown\n\n');
  }
  if (task.awaiting?.length) {
    const since = task.waitingSince !== undefined ? ` for ${formatDuration(now - task.waitingSince)}` : '';
    md.appendMarkdown(`Waiting${since} at:\n`);
    for (const f of task.awaiting) md.appendMarkdown(`- \`${escape(f.function)}\` ${frameLink(f)}\n`);
    md.appendMarkdown('\n');
  }
  if (task.stack && task.stack.length > 1) {
    md.appendMarkdown('Creation stack:\n');
    for (const f of task.stack) md.appendMarkdown(`- \`${escape(f.function)}\` ${frameLink(f)}\n`);
  }
  return md;
}

function processDescription(info: ProcessInfo): string {
  const base = `pid ${info.pid} · Python ${info.python}`;
  if (info.status === 'connected') return base;
  return `${base} · exited${info.exitCode === null || info.exitCode === undefined ? '' : ` (code ${info.exitCode})`}`;
}

export class TaskTreeProvider implements vscode.TreeDataProvider<ViewNode>, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<ViewNode | undefined>();
  readonly onDidChangeTreeData = this.changeEmitter.event;

  readonly arrangement: TaskArrangement;
  private pending = new Set<ViewNode>();
  private pendingAll = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly subscriptions: { dispose(): void }[];

  constructor(
    private readonly model: TaskModel,
    private readonly findings?: FindingStore,
  ) {
    this.arrangement = new TaskArrangement(model);
    const redraw = setInterval(() => this.redrawDurations(), DURATION_REDRAW_MS);
    this.subscriptions = [model.onDidChange((change) => this.onModelChange(change)), { dispose: () => clearInterval(redraw) }];
    if (findings) {
      this.subscriptions.push(
        findings.onDidChange((change) => {
          // A task that a finding concerns gets the warning mark.
          for (const f of [...change.added, ...change.updated]) {
            if (f.taskId && this.model.task(f.processKey, f.taskId)) this.pending.add(this.taskNode(f.processKey, f.taskId));
          }
          if (change.cleared) this.pendingAll = true;
          this.schedule();
        }),
      );
    }
  }

  processNode(processKey: string): ViewNode {
    return this.arrangement.processNode(processKey);
  }

  taskNode(processKey: string, taskId: string): TaskNode {
    return this.arrangement.taskNode(processKey, taskId);
  }

  /** Changes the arrangement, filter or history options and redraws the view. */
  configure(options: Partial<ArrangeOptions>): void {
    this.arrangement.configure(options);
    this.refreshAll();
  }

  refreshAll(): void {
    this.pendingAll = true;
    this.schedule();
  }

  /** Set by the view's owner: whether the Tasks view is on screen. */
  visible = true;

  /** Redraws the rows of tasks that wait, so "· 15 s" moves on; skipped for huge or hidden trees. */
  private redrawDurations(): void {
    if (!this.visible) return;
    let waiting = 0;
    let total = 0;
    for (const p of this.model.processes()) {
      if (p.status !== 'connected') continue;
      for (const t of this.model.allTasks(p.key)) {
        if (++total > DURATION_REDRAW_MAX_TASKS) return;
        if (t.state === 'pending' && t.waitingSince !== undefined) {
          waiting++;
          this.pending.add(this.taskNode(p.key, t.id));
        }
      }
    }
    if (waiting) this.schedule();
  }

  getChildren(element?: ViewNode): ViewNode[] {
    return this.arrangement.children(element);
  }

  getParent(element: ViewNode): ViewNode | undefined {
    return this.arrangement.parent(element);
  }

  getTreeItem(element: ViewNode): vscode.TreeItem {
    switch (element.kind) {
      case 'process':
        return this.processItem(element.processKey);
      case 'loop': {
        const loop = this.model.loops(element.processKey).find((l) => l.id === element.loopId);
        const item = new vscode.TreeItem(`loop in ${loop?.thread ?? element.loopId}`, vscode.TreeItemCollapsibleState.Expanded);
        item.id = element.id;
        item.description = loop ? `thread ${loop.threadId}` : undefined;
        item.iconPath = new vscode.ThemeIcon('sync');
        item.contextValue = 'loop';
        return item;
      }
      case 'task':
        return this.taskItem(element);
      case 'fold':
        return this.foldItem(element);
      case 'join':
        return this.joinItem(element);
    }
  }

  resolveTreeItem(item: vscode.TreeItem, element: ViewNode): vscode.TreeItem {
    // Tooltips are built on hover, so that "waiting for 3.2 s" is fresh.
    if (element.kind === 'task') {
      const task = this.model.task(element.processKey, element.taskId);
      if (task) item.tooltip = taskTooltip(task);
    }
    return item;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.subscriptions) s.dispose();
    this.changeEmitter.dispose();
  }

  private processItem(processKey: string): vscode.TreeItem {
    const info = this.model.process(processKey);
    const item = new vscode.TreeItem(info?.title ?? 'process', vscode.TreeItemCollapsibleState.Expanded);
    item.id = processKey;
    if (!info) return item;
    item.description = processDescription(info);
    item.iconPath = new vscode.ThemeIcon(info.status === 'connected' ? 'vm-running' : 'vm-outline');
    item.contextValue = `process ${info.status}`;
    item.tooltip = new vscode.MarkdownString(
      `**${escape(info.title)}** · pid ${info.pid}\n\n` +
        `${escape(info.implementation ?? 'Python')} ${escape(info.python)}` +
        (info.executable ? ` (\`${escape(info.executable)}\`)` : '') +
        `\n\n\`${escape(info.argv.join(' '))}\`\n\n${this.model.taskCount(processKey)} tasks · agent ${escape(info.agentVersion)}`,
    );
    return item;
  }

  private taskItem(node: TaskNode): vscode.TreeItem {
    const task = this.model.task(node.processKey, node.taskId);
    if (!task) {
      const gone = new vscode.TreeItem(node.taskId);
      gone.id = node.id;
      return gone;
    }
    const arrangement = this.arrangement.current.arrangement;
    const hasChildren =
      arrangement === 'creator'
        ? this.model.childCount(node.processKey, task.id) > 0
        : arrangement === 'awaiter' && this.arrangement.children(node).length > 0;
    const topLevel = !task.parent || !this.model.task(node.processKey, task.parent);
    const item = new vscode.TreeItem(
      task.name,
      !hasChildren
        ? vscode.TreeItemCollapsibleState.None
        : topLevel
          ? vscode.TreeItemCollapsibleState.Expanded
          : vscode.TreeItemCollapsibleState.Collapsed,
    );
    item.id = node.id;
    item.description = taskDescription(task);
    const flagged = this.findings?.isFlagged(node.processKey, task.id) ?? false;
    const exited = this.model.process(node.processKey)?.status === 'exited';
    item.iconPath = flagged ? FLAGGED_ICON : exited ? EXITED_ICONS[task.state] : STATE_ICONS[task.state];
    item.contextValue = [
      flagged ? 'flagged' : '',
      'task',
      `state-${task.state}`,
      task.site ? 'hasSite' : '',
      task.awaiting?.length ? 'hasAwait' : '',
      task.parent ? 'hasParent' : '',
      task.state === 'pending' || task.state === 'running' ? 'live' : 'finished',
    ]
      .filter(Boolean)
      .join(' ');
    item.accessibilityInformation = { label: `${task.name}, ${task.coro}, ${task.state}` };
    if (task.site) {
      item.command = { command: Commands.openCreationSite, title: 'Open Creation Site', arguments: [node] };
    }
    return item;
  }

  private foldItem(node: FoldNode): vscode.TreeItem {
    const item = new vscode.TreeItem(`×${node.taskIds.length} ${node.coro}`, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = node.id;
    const [file, line] = splitSite(node.siteKey);
    item.description = file ? `${path.basename(file)}:${line}` : 'creation site unknown';
    item.iconPath = new vscode.ThemeIcon('layers');
    item.contextValue = 'fold';
    const counts = new Map<string, number>();
    for (const id of node.taskIds) {
      const state = this.model.task(node.processKey, id)?.state ?? 'gone';
      counts.set(state, (counts.get(state) ?? 0) + 1);
    }
    item.tooltip = `${node.taskIds.length} tasks running ${node.coro}, created at ${node.siteKey || 'an unknown place'}\n` +
      [...counts].map(([s, n]) => `${n} ${s}`).join(', ');
    return item;
  }

  private joinItem(node: JoinNode): vscode.TreeItem {
    const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.Expanded);
    item.id = node.id;
    item.description = `${node.taskIds.length} task${node.taskIds.length === 1 ? '' : 's'}`;
    item.iconPath = new vscode.ThemeIcon(node.waitKind === 'gather' || node.waitKind === 'wait' ? 'combine' : 'symbol-namespace');
    item.contextValue = `join ${node.waitKind}`;
    return item;
  }

  private onModelChange(change: ModelChange): void {
    const { processKey } = change;
    this.arrangement.invalidate(processKey);
    if (change.reset) this.arrangement.forget(processKey);
    for (const id of change.removed) this.arrangement.forgetTask(processKey, id);
    const simple = this.arrangement.current.arrangement === 'creator' && !this.arrangement.current.filter && !this.arrangement.current.hideFinished;
    if (change.processChanged && change.reset) {
      this.pendingAll = true; // a process came or went: the top level changed
    } else if (change.reset || change.processChanged || !simple) {
      this.pending.add(this.processNode(processKey));
    } else {
      for (const parent of change.parents) {
        this.pending.add(parent === null ? this.processNode(processKey) : this.taskNode(processKey, parent));
      }
      for (const id of change.updated) this.pending.add(this.taskNode(processKey, id));
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const all = this.pendingAll || this.pending.size > MAX_TARGETED_REFRESHES;
      const nodes = this.pending;
      this.pending = new Set();
      this.pendingAll = false;
      if (all) {
        this.changeEmitter.fire(undefined);
        return;
      }
      for (const node of nodes) {
        // A row that went away in the meantime is refreshed through its process instead.
        const gone = node.kind === 'task' ? !this.model.task(node.processKey, node.taskId) : !this.model.process(node.processKey);
        if (!gone) this.changeEmitter.fire(node);
        else if (this.model.process(node.processKey)) this.changeEmitter.fire(this.processNode(node.processKey));
      }
    }, REFRESH_DELAY_MS);
  }
}

function splitSite(key: string): [string, string] {
  const i = key.lastIndexOf(':');
  return i < 0 ? ['', ''] : [key.slice(0, i), key.slice(i + 1)];
}
