/**
 * The extension's one log: a log output channel, and a way to tell the user about an error
 * once, with a "Show Logs" action, instead of a stream of pop-ups.
 */

import * as vscode from 'vscode';
import type { Logger } from './ipc/agentServer';

/** A button of an error notification besides "Show Logs". */
export interface NotificationAction {
  readonly title: string;
  run(): void;
}

export class Log implements Logger, vscode.Disposable {
  readonly channel: vscode.LogOutputChannel;
  private readonly shown = new Set<string>();

  constructor() {
    this.channel = vscode.window.createOutputChannel('TaskScope', { log: true });
  }

  info(message: string): void {
    this.channel.info(message);
  }

  warn(message: string): void {
    this.channel.warn(message);
  }

  error(message: string): void {
    this.channel.error(message);
  }

  show(): void {
    this.channel.show(true);
  }

  /**
   * Logs an error and shows it as one notification with "Show Logs" and any further `actions`
   * (such as "Open Settings"). The same `topic` is notified only once per session (it is still
   * logged every time); an undefined topic, for the failure of something the user just asked
   * for, is notified every time.
   */
  async notifyError(topic: string | undefined, message: string, actions: readonly NotificationAction[] = []): Promise<void> {
    this.error(message);
    if (topic !== undefined) {
      if (this.shown.has(topic)) return;
      this.shown.add(topic);
    }
    const choice = await vscode.window.showErrorMessage(message, 'Show Logs', ...actions.map((a) => a.title));
    if (choice === 'Show Logs') this.show();
    else actions.find((a) => a.title === choice)?.run();
  }

  /**
   * Logs a warning and shows it with "Show Logs": what the user asked for could not be done
   * (the process went away, the agent refused, a file would not open), or was done in part.
   * Every time: it answers the user's own action.
   */
  async notifyWarning(message: string): Promise<void> {
    this.warn(message);
    const choice = await vscode.window.showWarningMessage(message, 'Show Logs');
    if (choice === 'Show Logs') this.show();
  }

  dispose(): void {
    this.channel.dispose();
  }
}
