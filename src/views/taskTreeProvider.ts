/**
 * The "Tasks" view: processes at the top, then each process's tasks nested under the task
 * that created them. It renders the task model and refreshes only the rows a change touched,
 * batched, so a busy program does not flood the view. Rows have stable ids, so expansion and
 * selection survive updates.
 */

import * as path from 'path';
import * as vscode from 'vscode';
import { Commands } from '../constants';
import type { ModelChange, ProcessInfo, TaskModel } from '../model/taskModel';
import type { Frame, TaskRecord, TaskState } from '../protocol/messages';

export interface ProcessNode {
  readonly kind: 'process';
  readonly processKey: string;
}

export interface TaskNode {
  readonly kind: 'task';
  readonly processKey: string;
  readonly taskId: string;
}

export type TasksViewNode = ProcessNode | TaskNode;

/** How long changes are gathered before the view is told (one refresh per window). */
const REFRESH_DELAY_MS = 100;
/** Past this many changed rows in one window, one full refresh is cheaper than many small ones. */
const MAX_TARGETED_REFRESHES = 200;

const STATE_ICONS: Record<TaskState, vscode.ThemeIcon> = {
  running: new vscode.ThemeIcon('play-circle', new vscode.ThemeColor('debugIcon.startForeground')),
  pending: new vscode.ThemeIcon('watch'),
  done: new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed')),
  cancelled: new vscode.ThemeIcon('circle-slash', new vscode.ThemeColor('disabledForeground')),
  failed: new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
};

export function describeFrame(frame: Frame): string {
  return `${path.basename(frame.file)}:${frame.line}`;
}

/** The short text after a task's name: its coroutine, and where it waits or how it ended. */
export function taskDescription(task: TaskRecord): string {
  const where = task.awaiting?.[task.awaiting.length - 1];
  switch (task.state) {
    case 'pending':
      return where ? `${task.coro} · awaiting ${where.function} · ${describeFrame(where)}` : task.coro;
    case 'running':
      return `${task.coro} · running`;
    case 'failed':
      return `${task.coro} · failed${task.exception ? `: ${task.exception.type}` : ''}`;
    default:
      return `${task.coro} · ${task.state}`;
  }
}

function frameLink(frame: Frame): string {
  const uri = vscode.Uri.file(frame.file).with({ fragment: `L${Math.max(frame.line, 1)}` });
  return `[${describeFrame(frame)}](${uri.toString()})`;
}

function taskTooltip(task: TaskRecord): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**${escape(task.name)}** · \`${escape(task.coro)}\` · ${task.state}\n\n`);
  if (task.exception) md.appendMarkdown(`${escape(task.exception.type)}: ${escape(task.exception.message)}\n\n`);
  if (task.site) {
    md.appendMarkdown(`Created in \`${escape(task.site.function)}\` at ${frameLink(task.site)}\n\n`);
  } else {
    md.appendMarkdown('Creation site unknown\n\n');
  }
  if (task.awaiting?.length) {
    md.appendMarkdown('Waiting at:\n');
    for (const f of task.awaiting) md.appendMarkdown(`- \`${escape(f.function)}\` ${frameLink(f)}\n`);
    md.appendMarkdown('\n');
  }
  if (task.stack && task.stack.length > 1) {
    md.appendMarkdown('Creation stack:\n');
    for (const f of task.stack) md.appendMarkdown(`- \`${escape(f.function)}\` ${frameLink(f)}\n`);
  }
  return md;
}

function escape(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}

function processDescription(info: ProcessInfo): string {
  const base = `pid ${info.pid} · Python ${info.python}`;
  if (info.status === 'connected') return base;
  return `${base} · exited${info.exitCode === null || info.exitCode === undefined ? '' : ` (code ${info.exitCode})`}`;
}

export class TaskTreeProvider implements vscode.TreeDataProvider<TasksViewNode>, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<TasksViewNode | undefined>();
  readonly onDidChangeTreeData = this.changeEmitter.event;

  /** One node object per row: VS Code tells rows apart by object identity. */
  private readonly nodes = new Map<string, TasksViewNode>();
  private pending = new Set<TasksViewNode>();
  private pendingAll = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly subscription: { dispose(): void };

  constructor(private readonly model: TaskModel) {
    this.subscription = model.onDidChange((change) => this.onModelChange(change));
  }

  processNode(processKey: string): ProcessNode {
    return this.node(processKey, undefined) as ProcessNode;
  }

  taskNode(processKey: string, taskId: string): TaskNode {
    return this.node(processKey, taskId) as TaskNode;
  }

  getChildren(element?: TasksViewNode): TasksViewNode[] {
    if (!element) return this.model.processes().map((p) => this.processNode(p.key));
    const parent = element.kind === 'process' ? null : element.taskId;
    return this.model.children(element.processKey, parent).map((t) => this.taskNode(element.processKey, t.id));
  }

  getParent(element: TasksViewNode): TasksViewNode | undefined {
    if (element.kind === 'process') return undefined;
    const task = this.model.task(element.processKey, element.taskId);
    if (task?.parent && this.model.task(element.processKey, task.parent)) {
      return this.taskNode(element.processKey, task.parent);
    }
    return this.processNode(element.processKey);
  }

  getTreeItem(element: TasksViewNode): vscode.TreeItem {
    return element.kind === 'process' ? this.processItem(element) : this.taskItem(element);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.subscription.dispose();
    this.changeEmitter.dispose();
  }

  private processItem(node: ProcessNode): vscode.TreeItem {
    const info = this.model.process(node.processKey);
    const item = new vscode.TreeItem(info?.title ?? 'process', vscode.TreeItemCollapsibleState.Expanded);
    item.id = node.processKey;
    if (!info) return item;
    item.description = processDescription(info);
    item.iconPath = new vscode.ThemeIcon(info.status === 'connected' ? 'vm-running' : 'vm-outline');
    item.contextValue = `process ${info.status}`;
    item.tooltip = new vscode.MarkdownString(
      `**${escape(info.title)}** · pid ${info.pid}\n\n` +
        `${escape(info.implementation ?? 'Python')} ${escape(info.python)}` +
        (info.executable ? ` (\`${escape(info.executable)}\`)` : '') +
        `\n\n\`${escape(info.argv.join(' '))}\`\n\n${this.model.taskCount(node.processKey)} tasks · agent ${escape(info.agentVersion)}`,
    );
    return item;
  }

  private taskItem(node: TaskNode): vscode.TreeItem {
    const task = this.model.task(node.processKey, node.taskId);
    if (!task) {
      const gone = new vscode.TreeItem(node.taskId);
      gone.id = `${node.processKey}/${node.taskId}`;
      return gone;
    }
    const hasChildren = this.model.children(node.processKey, task.id).length > 0;
    const topLevel = !task.parent || !this.model.task(node.processKey, task.parent);
    const item = new vscode.TreeItem(
      task.name,
      !hasChildren
        ? vscode.TreeItemCollapsibleState.None
        : topLevel
          ? vscode.TreeItemCollapsibleState.Expanded
          : vscode.TreeItemCollapsibleState.Collapsed,
    );
    item.id = `${node.processKey}/${task.id}`;
    item.description = taskDescription(task);
    item.iconPath = STATE_ICONS[task.state];
    item.tooltip = taskTooltip(task);
    item.contextValue = ['task', `state-${task.state}`, task.site ? 'hasSite' : ''].filter(Boolean).join(' ');
    item.accessibilityInformation = { label: `${task.name}, ${task.coro}, ${task.state}` };
    if (task.site) {
      item.command = { command: Commands.openCreationSite, title: 'Open Creation Site', arguments: [node] };
    }
    return item;
  }

  private node(processKey: string, taskId: string | undefined): TasksViewNode {
    const id = taskId === undefined ? processKey : `${processKey}/${taskId}`;
    let node = this.nodes.get(id);
    if (!node) {
      node = taskId === undefined ? { kind: 'process', processKey } : { kind: 'task', processKey, taskId };
      this.nodes.set(id, node);
    }
    return node;
  }

  private onModelChange(change: ModelChange): void {
    if (change.reset || change.processChanged) {
      this.forgetNodes(change.processKey, change.processChanged && !this.model.process(change.processKey));
    }
    if (change.processChanged && change.reset) {
      this.pendingAll = true; // a process came or went: the top level changed
    } else if (change.reset || change.processChanged) {
      this.pending.add(this.processNode(change.processKey));
    } else {
      for (const parent of change.parents) {
        this.pending.add(parent === null ? this.processNode(change.processKey) : this.taskNode(change.processKey, parent));
      }
      for (const id of change.updated) this.pending.add(this.taskNode(change.processKey, id));
      for (const id of change.removed) this.nodes.delete(`${change.processKey}/${id}`);
    }
    this.schedule();
  }

  /** Drops cached row objects of tasks the model no longer has (or of a removed process). */
  private forgetNodes(processKey: string, processGone: boolean): void {
    for (const [id, node] of this.nodes) {
      if (node.processKey !== processKey) continue;
      if (node.kind === 'process' ? processGone : !this.model.task(processKey, node.taskId)) this.nodes.delete(id);
    }
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
      } else {
        for (const node of nodes) {
          // A row that went away in the meantime is refreshed through its process instead.
          const gone = node.kind === 'task' ? !this.model.task(node.processKey, node.taskId) : !this.model.process(node.processKey);
          if (!gone) this.changeEmitter.fire(node);
          else if (this.model.process(node.processKey)) this.changeEmitter.fire(this.processNode(node.processKey));
        }
      }
    }, REFRESH_DELAY_MS);
  }
}
