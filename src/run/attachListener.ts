/**
 * The TCP listener for programs started elsewhere ("Attach a Program Started Elsewhere…",
 * its `tcp` and `container` choices). It starts on first use, on the host that
 * `taskscope.attach.listenHost` names; the value is checked (listenHost.ts), and a bad one is
 * reported once, with "Open Settings", and 127.0.0.1 used instead.
 *
 * When the setting changes while a listener runs, that listener stops taking connections at
 * once: an address the user has just taken back (say, from 0.0.0.0 to 127.0.0.1) must not stay
 * open until the window closes. The programs already connected through it stay connected
 * until they end (their connections are theirs; the server object keeps serving them until
 * the window closes). The next attach starts a listener on the new host, with a new token.
 */

import * as vscode from 'vscode';
import { getSetting } from '../contributes';
import type { AgentServer } from '../ipc/agentServer';
import { checkListenHost, formatTcpAddress } from '../ipc/listenHost';
import type { Log, NotificationAction } from '../log';
import type { TcpListener } from './attachText';

const SECTION = 'taskscope.attach.listenHost';

export class AttachListener implements vscode.Disposable {
  /** The listener for the setting's host, started or starting. */
  private current: { readonly host: string; readonly server: Promise<AgentServer> } | undefined;
  /** The bad value last reported, so that one value is reported once. */
  private reported: string | undefined;
  private readonly watcher: vscode.Disposable;
  private readonly openSettings: NotificationAction = {
    title: 'Open Settings',
    run: () => void vscode.commands.executeCommand('workbench.action.openSettings', SECTION),
  };

  /** @param start starts a TCP listener on a host (and hands it to whoever disposes it). */
  constructor(
    private readonly start: (host: string) => Promise<AgentServer>,
    private readonly log: Log,
  ) {
    this.watcher = vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration(SECTION) || !this.current) return;
      if (checkListenHost(getSetting('attach.listenHost')).host !== this.current.host) this.retire();
    });
  }

  /** The host the listener binds (or will bind): the setting's, checked; a bad value is reported. */
  host(): string {
    const value = getSetting('attach.listenHost');
    const check = checkListenHost(value);
    if (check.ok) {
      this.reported = undefined;
    } else if (JSON.stringify(value) !== this.reported) {
      this.reported = JSON.stringify(value);
      void this.log.notifyError(undefined, check.error, [this.openSettings]);
    }
    return check.host;
  }

  /**
   * The listener on the setting's host, started on first use or after the host changed.
   * Undefined when it cannot listen there (reported to the user).
   */
  async listener(): Promise<TcpListener | undefined> {
    const host = this.host();
    if (this.current?.host !== host) {
      this.retire();
      this.current = { host, server: this.start(host) };
    }
    const pending = this.current;
    try {
      const server = await pending.server;
      const endpoint = server.tcpEndpoint!;
      return { host: endpoint.host, port: endpoint.port, token: server.token! };
    } catch (e) {
      if (this.current === pending) this.current = undefined;
      // Asked for just now: told every time, not once a session.
      void this.log.notifyError(
        undefined,
        `TaskScope: cannot listen for programs started elsewhere on ${host} (${SECTION}): ${(e as Error).message}. ` +
          'The address must be one of this machine\'s (for a Docker bridge, its gateway exists only while Docker runs), or 0.0.0.0.',
        [this.openSettings],
      );
      return undefined;
    }
  }

  private retire(): void {
    const old = this.current;
    this.current = undefined;
    void old?.server.then(
      (server) => {
        server.stopListening();
        const { host, port } = server.tcpEndpoint!;
        this.log.info(`stopped listening at ${formatTcpAddress(host, port)} (${SECTION} changed); programs connected through it stay connected`);
      },
      () => undefined,
    );
  }

  dispose(): void {
    this.watcher.dispose();
  }
}
