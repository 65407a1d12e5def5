/**
 * The "Tasks" view: processes at the top, then (when a process runs several event loops) its
 * loops, then its tasks as the arrangement orders them (by creator, by awaiter, or flat;
 * see arrangement.ts). It refreshes only the rows a change touched, batched, so a busy
 * program does not flood the view. Rows have stable ids, so expansion and selection survive
 * updates.
 *
 * By creator or flat, with nothing hidden, the model's change names the rows to redraw. In the
 * other arrangements a task's change can move it, so the rows drawn are compared with the
 * arrangement instead (drawnRows.ts); VS Code draws from `forTreeView`, which records them.
 */

import * as path from 'path';
import * as vscode from 'vscode';
import { Commands } from '../constants';
import { FindingStore, findingTitle } from '../model/findings';
import type { ModelChange, ProcessInfo, TaskModel } from '../model/taskModel';
import type { Frame, TaskRecord, TaskState } from '../protocol/messages';
import { processRowUri, taskRowUri } from './rowDecorations';
import { coarseDuration, creationFrame, describeFrame, formatDuration, taskDescription } from './taskText';

export { coarseDuration, describeFrame, formatDuration, taskDescription };
import { ArrangeOptions, FoldNode, JoinNode, TaskArrangement, TaskNode, ViewNode } from './arrangement';
import { DrawnRows } from './drawnRows';

export type { ViewNode as TasksViewNode } from './arrangement';

/**
 * How long changes are gathered before the view is told. A row whose own text changed is
 * redrawn soon; a row whose children changed redraws its whole subtree (that is how VS Code
 * refreshes), which disturbs hovers and clicks, so those wait longer.
 */
const ROW_REFRESH_DELAY_MS = 250;
const STRUCTURE_REFRESH_DELAY_MS = 1000;
/** Past this many changed rows shown in one window, one full refresh is cheaper than many small ones. */
const MAX_TARGETED_REFRESHES = 200;
/** Wait durations in rows are redrawn this often (only while the view is shown and small enough). */
const DURATION_REDRAW_MS = 5_000;
const DURATION_REDRAW_MAX_ROWS = 200;

const STATE_ICONS: Record<TaskState, vscode.ThemeIcon> = {
  running: new vscode.ThemeIcon('play-circle', new vscode.ThemeColor('debugIcon.startForeground')),
  pending: new vscode.ThemeIcon('watch'),
  done: new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed')),
  cancelled: new vscode.ThemeIcon('circle-slash', new vscode.ThemeColor('disabledForeground')),
  failed: new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
};

/** A process that exited is history: its icons are drawn grey (its labels too: rowDecorations.ts). */
const EXITED_ICONS = Object.fromEntries(
  Object.entries(STATE_ICONS).map(([state, icon]) => [state, new vscode.ThemeIcon(icon.id, new vscode.ThemeColor('disabledForeground'))]),
) as Record<TaskState, vscode.ThemeIcon>;

function frameLink(frame: Frame): string {
  const uri = vscode.Uri.file(frame.file).with({ fragment: `L${Math.max(frame.line, 1)}` });
  return `[${describeFrame(frame)}](${uri.toString()})`;
}

/** A Markdown code span that shows `text` exactly (no escaping inside code). */
function code(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${longest ? ' ' : ''}${text}${longest ? ' ' : ''}${fence}`;
}

function escape(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}

export function taskTooltip(task: TaskRecord, now = Date.now()): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**${escape(task.name)}** · ${code(task.coro)} · ${task.state}\n\n`);
  if (task.exception) md.appendMarkdown(`${escape(task.exception.type)}: ${escape(task.exception.message)}\n\n`);
  if (task.cancelMessage) md.appendMarkdown(`Cancelled: ${escape(task.cancelMessage)}\n\n`);
  const made = creationFrame(task);
  if (!made) {
    md.appendMarkdown('Creation site unknown\n\n');
  } else if (made.library) {
    md.appendMarkdown(
      `Created by library code in ${code(made.frame.function)} at ${frameLink(made.frame)} (no frame of the program's own was on the stack)\n\n`,
    );
  } else {
    md.appendMarkdown(`Created in ${code(made.frame.function)} at ${frameLink(made.frame)}\n\n`);
  }
  if (task.awaiting?.length) {
    const since = task.waitingSince !== undefined ? ` for ${formatDuration(now - task.waitingSince)}` : '';
    md.appendMarkdown(`Waiting${since} at:\n`);
    for (const f of task.awaiting) md.appendMarkdown(`- ${code(f.function)} ${frameLink(f)}\n`);
    md.appendMarkdown('\n');
  }
  if (task.stack && task.stack.length > 1) {
    md.appendMarkdown('Creation stack:\n');
    for (const f of task.stack) md.appendMarkdown(`- ${code(f.function)} ${frameLink(f)}\n`);
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
  /** Rows whose own text changed. */
  private pendingRows = new Set<ViewNode>();
  /** Rows whose children changed (their subtree is redrawn). */
  private pendingStructure = new Set<ViewNode>();
  private pendingAll = false;
  /** Processes whose drawn rows are to be compared with the arrangement (see `changesNameRows`). */
  private pendingCompare = new Set<string>();
  /** What VS Code was given, to compare with after a change. */
  private readonly drawn = new DrawnRows();
  private rowTimer: NodeJS.Timeout | undefined;
  private structureTimer: NodeJS.Timeout | undefined;
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
            if (f.taskId && this.model.task(f.processKey, f.taskId)) for (const row of this.arrangement.rowsOf(f.processKey, f.taskId)) this.pendingRows.add(row);
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
    this.drawn.clear(); // recorded again as VS Code draws the rows anew (when it compares them)
    this.refreshAll();
  }

  refreshAll(): void {
    this.pendingAll = true;
    this.schedule();
  }

  private onScreen = true;
  /** Rows changed while the view was hidden: it is drawn whole when it shows again. */
  private changedWhileHidden = false;

  /** Whether the Tasks view is on screen (set by the view's owner). */
  get visible(): boolean {
    return this.onScreen;
  }

  /**
   * Hidden, the view is not redrawn row by row: the workbench keeps a hidden view's refreshes
   * for when it shows, and then a refresh of a row it has not made yet fails there ("Data tree
   * node not found") and can leave a reveal undone. It is drawn whole when it shows again.
   */
  set visible(value: boolean) {
    const shows = value && !this.onScreen;
    this.onScreen = value;
    if (shows && this.changedWhileHidden) {
      this.changedWhileHidden = false;
      this.flushAll();
    }
  }

  /** Redraws the rows of tasks that wait, so "· 15 s" moves on; skipped for huge or hidden trees. */
  private redrawDurations(): void {
    if (!this.visible) return;
    const rows: ViewNode[] = [];
    const now = Date.now();
    for (const p of this.model.processes()) {
      if (p.status !== 'connected') continue;
      for (const t of this.model.allTasks(p.key)) {
        // Only rows whose shown duration moved on (the text is coarse: 5 s steps, then minutes).
        if (t.state !== 'pending' || t.waitingSince === undefined || now - t.waitingSince < 5_000) continue;
        for (const row of this.arrangement.rowsOf(p.key, t.id)) {
          if (!this.drawn.isShown(row.id)) continue; // under a collapsed row: drawn when opened
          if (rows.length >= DURATION_REDRAW_MAX_ROWS) return;
          rows.push(row);
        }
      }
    }
    for (const row of rows) this.pendingRows.add(row);
    if (rows.length) this.schedule();
  }

  getChildren(element?: ViewNode): ViewNode[] {
    return this.arrangement.children(element);
  }

  /**
   * The provider the tree view draws from: the same rows, and what VS Code is given is
   * recorded. Other callers (commands, tests) use the provider itself, so that what they read
   * is never taken for what the view shows.
   */
  readonly forTreeView: vscode.TreeDataProvider<ViewNode> = {
    onDidChangeTreeData: this.onDidChangeTreeData,
    getChildren: (element) => {
      const children = this.getChildren(element);
      this.drawn.record(element, children);
      return children;
    },
    getTreeItem: (element) => this.getTreeItem(element),
    getParent: (element) => this.getParent(element),
    resolveTreeItem: (item, element) => this.resolveTreeItem(item, element),
  };

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
    // Tooltips are built on hover, so that "waiting for 3.2 s" and a folded row's counts of
    // its tasks by state are fresh (a change of a folded task does not redraw the fold's row;
    // counting 100k tasks at each redraw would cost too).
    if (element.kind === 'fold') item.tooltip = this.foldTooltip(element);
    if (element.kind === 'task') {
      const task = this.model.task(element.processKey, element.taskId);
      if (task) {
        const tooltip = taskTooltip(task);
        if (element.cycle) tooltip.appendMarkdown('\n\n*It waits on itself through the tasks above this row (a deadlock): not opened again here.*');
        else if (element.alias) tooltip.appendMarkdown('\n\n*More than one task waits on it: it is shown under each of them.*');
        item.tooltip = tooltip;
      }
    }
    return item;
  }

  dispose(): void {
    if (this.rowTimer) clearTimeout(this.rowTimer);
    if (this.structureTimer) clearTimeout(this.structureTimer);
    for (const s of this.subscriptions) s.dispose();
    this.changeEmitter.dispose();
  }

  private processItem(processKey: string): vscode.TreeItem {
    const info = this.model.process(processKey);
    const item = new vscode.TreeItem(info?.title ?? 'process', vscode.TreeItemCollapsibleState.Expanded);
    item.id = processKey;
    if (!info) return item;
    item.description = processDescription(info);
    item.resourceUri = processRowUri(processKey);
    item.iconPath =
      info.status === 'connected' ? new vscode.ThemeIcon('vm-running') : new vscode.ThemeIcon('vm-outline', new vscode.ThemeColor('disabledForeground'));
    item.contextValue = `process ${info.status}`;
    item.tooltip = new vscode.MarkdownString(
      `**${escape(info.title)}** · pid ${info.pid}\n\n` +
        `${escape(info.implementation ?? 'Python')} ${escape(info.python)}` +
        (info.executable ? ` (${code(info.executable)})` : '') +
        `\n\n${code(info.argv.join(' '))}\n\n${this.model.taskCount(processKey)} tasks · agent ${escape(info.agentVersion)}`,
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
    // Top-level tasks start open; another place of a task shown elsewhere starts closed.
    const topLevel = !node.alias && (!task.parent || !this.model.task(node.processKey, task.parent));
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
    // The state icon always; findings add a badge and colour the name (rowDecorations.ts).
    item.resourceUri = taskRowUri(node.processKey, task.id);
    const findingKinds = this.findings?.kindsOf(node.processKey, task.id) ?? [];
    const flagged = findingKinds.length > 0;
    const exited = this.model.process(node.processKey)?.status === 'exited';
    item.iconPath = exited ? EXITED_ICONS[task.state] : STATE_ICONS[task.state];
    item.contextValue = [
      flagged ? 'flagged' : '',
      'task',
      `state-${task.state}`,
      creationFrame(task) ? 'hasSite' : '',
      task.awaiting?.length ? 'hasAwait' : '',
      task.parent ? 'hasParent' : '',
      task.state === 'pending' || task.state === 'running' ? 'live' : 'finished',
      exited ? 'exited' : 'connected',
    ]
      .filter(Boolean)
      .join(' ');
    const about = flagged ? `, findings: ${findingKinds.map(findingTitle).join(', ')}` : '';
    item.accessibilityInformation = { label: `${task.name}, ${task.coro}, ${task.state}${about}` };
    if (creationFrame(task)) {
      // No arguments: the command reads the view's selection (the clicked row). Arguments would
      // be held by a handle that a redraw of the row replaces, so a click landing on a row drawn
      // a moment earlier would miss ("command not found").
      item.command = { command: Commands.openCreationSite, title: 'Open Creation Site' };
    }
    return item;
  }

  private foldItem(node: FoldNode): vscode.TreeItem {
    if (node.offset !== undefined) {
      // A part of a large fold: which of its tasks, oldest first (the fold's row says the rest).
      const item = new vscode.TreeItem(`tasks ${node.offset + 1}–${node.offset + node.taskIds.length}`, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = node.id;
      item.iconPath = new vscode.ThemeIcon('list-ordered');
      item.contextValue = 'foldPart';
      return item;
    }
    const item = new vscode.TreeItem(`×${node.taskIds.length} ${node.coro}`, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = node.id;
    const [file, line] = splitSite(node.siteKey);
    item.description = node.madeBy ? `by ${node.madeBy} · library` : file ? `${path.basename(file)}:${line}` : 'creation site unknown';
    item.iconPath = new vscode.ThemeIcon('layers');
    item.contextValue = 'fold';
    return item;
  }

  /** A folded row's tooltip: how many of its tasks are in each state, now. */
  private foldTooltip(node: FoldNode): string {
    const counts = new Map<string, number>();
    for (const id of node.taskIds) {
      const state = this.model.task(node.processKey, id)?.state ?? 'gone';
      counts.set(state, (counts.get(state) ?? 0) + 1);
    }
    const what = node.offset === undefined
      ? `${node.taskIds.length} tasks`
      : `Tasks ${node.offset + 1}–${node.offset + node.taskIds.length} (oldest first) of the ${node.total}`;
    const where = node.madeBy
      ? `by library code in ${node.madeBy} (${node.siteKey.slice(0, node.siteKey.lastIndexOf('#'))})`
      : node.siteKey ? `at ${node.siteKey}` : 'at an unknown place';
    return `${what} running ${node.coro}, created ${where}\n` +
      [...counts].map(([s, n]) => `${n} ${s}`).join(', ');
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
    const simple = this.changesNameRows();
    const flat = this.arrangement.current.arrangement === 'flat';
    if (change.processChanged && change.reset) {
      this.pendingAll = true; // a process came or went: the top level changed
    } else if (change.processChanged) {
      this.pendingRows.add(this.processNode(processKey)); // its own row: status, exit code
    } else if (change.reset) {
      this.pendingStructure.add(this.processNode(processKey));
    } else if (!simple) {
      this.pendingCompare.add(processKey);
      // Rows that stay where they are but whose text changed (or which gained children).
      for (const id of [...change.updated, ...change.parents]) if (id !== null) for (const row of this.arrangement.rowsOf(processKey, id)) this.pendingRows.add(row);
    } else {
      for (const parent of change.parents) {
        // Flat, every task is a row of its process, whoever made it.
        this.pendingStructure.add(parent === null || flat ? this.processNode(processKey) : this.taskNode(processKey, parent));
      }
      for (const id of change.updated) this.pendingRows.add(this.taskNode(processKey, id));
    }
    this.schedule();
  }

  /**
   * Where a task's own change cannot move it (by creator or flat, nothing hidden), the model's
   * change names the rows to redraw. Elsewhere (by awaiter, what it waits on places it; a filter
   * or hidden finished tasks may take it out) the rows drawn are compared with the arrangement.
   */
  private changesNameRows(): boolean {
    const current = this.arrangement.current;
    return (current.arrangement === 'creator' || current.arrangement === 'flat') && !current.filter && !current.hideFinished;
  }

  private schedule(): void {
    if (!this.rowTimer && (this.pendingRows.size || this.pendingAll)) {
      this.rowTimer = setTimeout(() => {
        this.rowTimer = undefined;
        if (this.pendingAll) return this.flushAll();
        const rows = this.pendingRows;
        this.pendingRows = new Set();
        this.fire(rows);
      }, ROW_REFRESH_DELAY_MS);
    }
    if (!this.structureTimer && (this.pendingStructure.size || this.pendingCompare.size)) {
      this.structureTimer = setTimeout(() => {
        this.structureTimer = undefined;
        if (this.pendingAll) return this.flushAll();
        const parents = this.pendingStructure;
        this.pendingStructure = new Set();
        if (!this.onScreen && this.pendingCompare.size) {
          // Nothing is redrawn row by row while hidden (see `visible`): no need to compare.
          this.pendingCompare = new Set();
          this.changedWhileHidden = true;
        }
        for (const processKey of this.pendingCompare) {
          if (!this.model.process(processKey)) continue;
          const plan = this.drawn.changes(this.processNode(processKey), (node) => this.arrangement.children(node));
          for (const node of [...plan.subtrees, ...plan.rows]) parents.add(node);
        }
        this.pendingCompare = new Set();
        this.fire(parents);
      }, STRUCTURE_REFRESH_DELAY_MS);
    }
  }

  private flushAll(): void {
    this.pendingAll = false;
    this.changedWhileHidden = false;
    this.pendingRows = new Set();
    this.pendingStructure = new Set();
    this.pendingCompare = new Set();
    this.drawn.clear();
    this.changeEmitter.fire(undefined);
  }

  private fire(nodes: Set<ViewNode>): void {
    if (!this.onScreen) {
      if (nodes.size) this.changedWhileHidden = true;
      return;
    }
    // Only rows VS Code was given: one it never drew (under a collapsed fold, say) is drawn as
    // it is when its row above opens. A row whose task went away is not redrawn either: the
    // row above it is (its children changed).
    const shown = [...nodes].filter((node) =>
      this.drawn.isShown(node.id) && (node.kind === 'task' ? this.model.task(node.processKey, node.taskId) : this.model.process(node.processKey)),
    );
    if (shown.length > MAX_TARGETED_REFRESHES) return this.flushAll();
    for (const node of shown) {
      this.drawn.forget(node); // VS Code asks again for what is below it
      this.changeEmitter.fire(node);
    }
  }
}

function splitSite(key: string): [string, string] {
  const i = key.lastIndexOf(':');
  return i < 0 ? ['', ''] : [key.slice(0, i), key.slice(i + 1)];
}
