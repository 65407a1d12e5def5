/**
 * The status bar item: connected processes, live tasks and findings at a glance; a click
 * focuses the Tasks view. Hidden while nothing is connected and nothing was found.
 */

import * as vscode from 'vscode';
import { Views } from '../constants';
import type { FindingStore } from '../model/findings';
import type { TaskModel } from '../model/taskModel';

const UPDATE_DELAY_MS = 250;

export class TaskScopeStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('taskscope.status', vscode.StatusBarAlignment.Left, 50);
  private readonly listeners: { dispose(): void }[];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly model: TaskModel,
    private readonly findings: FindingStore,
  ) {
    this.item.name = 'TaskScope';
    this.item.command = `${Views.tasks}.focus`;
    this.listeners = [model.onDidChange(() => this.schedule()), findings.onDidChange(() => this.schedule())];
    this.update();
  }

  /** The text shown now (for tests). */
  get text(): string {
    return this.item.text;
  }

  update(): void {
    const processes = this.model.processes();
    const connected = processes.filter((p) => p.status === 'connected');
    let live = 0;
    for (const p of connected) for (const t of this.model.allTasks(p.key)) if (t.state === 'pending' || t.state === 'running') live++;
    const findings = this.findings.all().length;
    if (!connected.length && !findings) {
      this.item.hide();
      return;
    }
    const parts = [`${connected.length} process${connected.length === 1 ? '' : 'es'}`, `${live} task${live === 1 ? '' : 's'}`];
    this.item.text = `$(pulse) ${parts.join(' · ')}` + (findings ? ` · $(warning) ${findings}` : '');
    this.item.tooltip = `TaskScope: ${connected.length} connected, ${live} live tasks, ${findings} finding${findings === 1 ? '' : 's'}. Click to show the tasks.`;
    this.item.backgroundColor = findings ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.show();
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const l of this.listeners) l.dispose();
    this.item.dispose();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.update();
    }, UPDATE_DELAY_MS);
  }
}
