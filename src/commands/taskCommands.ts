/**
 * What a user can do to a task from the Tasks view: open where it was created or where it
 * waits, cancel it (or it and everything it created), copy its stack, reveal its creator.
 */

import * as vscode from 'vscode';
import type { AgentServer } from '../ipc/agentServer';
import type { Log } from '../log';
import type { TaskModel } from '../model/taskModel';
import { cancelConfirmation, cancelledWith, cancelTreeConfirmation, Confirmation, descendants, formatStack } from '../model/taskRelations';
import type { Frame, TaskRecord } from '../protocol/messages';
import type { TasksViewNode } from '../views/taskTreeProvider';
import type { TaskTreeProvider } from '../views/taskTreeProvider';
import { creationFrame } from '../views/taskText';

/** Options the integration tests pass as the third argument (menus pass the node and the selection). */
export interface CancelOptions {
  /** Ask before cancelling (default). */
  readonly confirm?: boolean;
}

/** Asks, modally; true when the user chose the confirmation's button. */
async function confirmed(c: Confirmation): Promise<boolean> {
  return (await vscode.window.showWarningMessage(c.message, { modal: true, detail: c.detail }, c.button)) === c.button;
}

export class TaskCommands {
  constructor(
    private readonly model: TaskModel,
    private readonly server: () => AgentServer[],
    private readonly treeView: vscode.TreeView<TasksViewNode>,
    private readonly tasksView: TaskTreeProvider,
    private readonly log: Log,
  ) {}

  private target(node: TasksViewNode | undefined): { processKey: string; task: TaskRecord } | undefined {
    const n = node ?? this.treeView.selection[0];
    if (n?.kind !== 'task') return undefined;
    const task = this.model.task(n.processKey, n.taskId);
    return task ? { processKey: n.processKey, task } : undefined;
  }

  async openCreationSite(node?: TasksViewNode): Promise<vscode.TextEditor | undefined> {
    const t = this.target(node);
    if (!t) return undefined;
    // The program's line that made it, else the library's (a server's connection tasks).
    const made = creationFrame(t.task);
    if (!made) {
      void vscode.window.showInformationMessage(`TaskScope: where task '${t.task.name}' was created is not known.`);
      return undefined;
    }
    return openFrame(made.frame, this.log);
  }

  async openAwaitPoint(node?: TasksViewNode): Promise<vscode.TextEditor | undefined> {
    const t = this.target(node);
    if (!t) return undefined;
    const chain = t.task.awaiting ?? [];
    // The deepest frame of the program's own code, else the deepest frame.
    const frame = [...chain].reverse().find((f) => f.user) ?? chain[chain.length - 1];
    if (!frame) {
      void vscode.window.showInformationMessage(`TaskScope: task '${t.task.name}' is not waiting at an await now.`);
      return undefined;
    }
    return openFrame(frame, this.log);
  }

  async cancel(node?: TasksViewNode, _selection?: unknown, options: CancelOptions = {}): Promise<string[] | undefined> {
    const t = this.target(node);
    if (!t) return undefined;
    const withIt = cancelledWith(this.model, t.processKey, t.task.id);
    if (options.confirm !== false && !(await confirmed(cancelConfirmation(t.task, withIt)))) return undefined;
    return this.send(t.processKey, { command: 'cancel', task: t.task.id, msg: 'cancelled from TaskScope' });
  }

  async cancelTree(node?: TasksViewNode, _selection?: unknown, options: CancelOptions = {}): Promise<string[] | undefined> {
    const t = this.target(node);
    if (!t) return undefined;
    const created = descendants(this.model, t.processKey, t.task.id);
    if (options.confirm !== false && !(await confirmed(cancelTreeConfirmation(t.task, created)))) return undefined;
    return this.send(t.processKey, { command: 'cancelTree', task: t.task.id, msg: 'cancelled from TaskScope' });
  }

  async copyStack(node?: TasksViewNode): Promise<string | undefined> {
    const t = this.target(node);
    if (!t) return undefined;
    let awaiting = t.task.awaiting ?? [];
    let creation = t.task.stack ?? (t.task.site ? [t.task.site] : []);
    const server = this.serverFor(t.processKey);
    if (server && (t.task.state === 'pending' || t.task.state === 'running')) {
      try {
        const result = await server.command(t.processKey, { command: 'stack', task: t.task.id });
        const value = result.value as { awaiting?: Frame[]; creation?: Frame[] } | undefined;
        if (result.ok && value) {
          awaiting = value.awaiting ?? awaiting;
          creation = value.creation ?? creation;
        }
      } catch (e) {
        this.log.warn(`stack of ${t.task.id}: ${(e as Error).message}; copying what the view knows`);
      }
    }
    const text = formatStack(t.task, awaiting, creation);
    await vscode.env.clipboard.writeText(text);
    vscode.window.setStatusBarMessage(`TaskScope: copied the stack of '${t.task.name}'`, 3000);
    return text;
  }

  async revealCreator(node?: TasksViewNode): Promise<TasksViewNode | undefined> {
    const t = this.target(node);
    if (!t?.task.parent || !this.model.task(t.processKey, t.task.parent)) {
      void vscode.window.showInformationMessage('TaskScope: the task that created this one is no longer known.');
      return undefined;
    }
    const parent = this.tasksView.taskNode(t.processKey, t.task.parent);
    await this.treeView.reveal(parent, { select: true, focus: true, expand: false });
    return parent;
  }

  private serverFor(processKey: string): AgentServer | undefined {
    return this.server().find((s) => s.isConnected(processKey));
  }

  private async send(processKey: string, request: { command: string; task: string; msg?: string }): Promise<string[] | undefined> {
    const server = this.serverFor(processKey);
    if (!server) {
      void this.log.notifyWarning(`TaskScope: cannot ${request.command} ${request.task}: the process is no longer connected.`);
      return undefined;
    }
    try {
      const result = await server.command(processKey, request);
      if (!result.ok) {
        void this.log.notifyWarning(`TaskScope: ${request.command} ${request.task} failed: ${result.error}`);
        return undefined;
      }
      const cancelled = (result.value as { cancelled?: string[] } | undefined)?.cancelled ?? [];
      this.log.info(`${request.command} ${request.task}: cancelled ${cancelled.join(', ') || 'nothing'}`);
      return cancelled;
    } catch (e) {
      await this.log.notifyError(undefined, `TaskScope: ${request.command} failed: ${(e as Error).message}`);
      return undefined;
    }
  }
}

export async function openFrame(frame: Frame, log: Log): Promise<vscode.TextEditor | undefined> {
  const line = Math.max(frame.line - 1, 0);
  try {
    return await vscode.window.showTextDocument(vscode.Uri.file(frame.file), {
      selection: new vscode.Range(line, 0, line, 0),
      preserveFocus: false,
    });
  } catch (e) {
    void log.notifyWarning(`TaskScope: cannot open ${frame.file}: ${(e as Error).message}`);
    return undefined;
  }
}
