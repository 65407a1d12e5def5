/**
 * The extension's one log: a log output channel, and a way to tell the user about an error
 * once, with a "Show Logs" action, instead of a stream of pop-ups.
 */

import * as vscode from 'vscode';
import type { Logger } from './ipc/agentServer';

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
   * Logs an error and shows it as one notification with "Show Logs". The same `topic` is
   * notified only once per session (it is still logged every time).
   */
  async notifyError(topic: string, message: string): Promise<void> {
    this.error(message);
    if (this.shown.has(topic)) return;
    this.shown.add(topic);
    const choice = await vscode.window.showErrorMessage(message, 'Show Logs');
    if (choice === 'Show Logs') this.show();
  }

  dispose(): void {
    this.channel.dispose();
  }
}
