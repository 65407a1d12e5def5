/**
 * `taskscope.attach.pathMappings`, read when it changes (and when the workspace's folders do,
 * for `${workspaceFolder}`). A bad entry is reported once per value, with "Open Settings",
 * and ignored; the other entries still apply (src/protocol/pathMappings.ts).
 */

import * as vscode from 'vscode';
import { getSetting } from '../contributes';
import type { Log } from '../log';
import { compilePathMappings, PathMapper } from '../protocol/pathMappings';

const SECTION = 'taskscope.attach.pathMappings';

export class PathMappingSetting implements vscode.Disposable {
  private compiled: PathMapper | undefined;
  private stale = true;
  private reported: string | undefined;
  private readonly watchers: vscode.Disposable[];

  constructor(private readonly log: Log) {
    this.watchers = [
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(SECTION)) this.stale = true;
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => (this.stale = true)),
    ];
  }

  /** The mapper now; undefined without mappings (messages are then taken as they come). */
  mapper(): PathMapper | undefined {
    if (!this.stale) return this.compiled;
    this.stale = false;
    const value = getSetting('attach.pathMappings');
    const { mapper, problems } = compilePathMappings(value, vscode.workspace.workspaceFolders?.[0]?.uri.fsPath);
    this.compiled = mapper;
    const key = JSON.stringify(value) + '\n' + problems.join('\n');
    if (problems.length && key !== this.reported) {
      this.reported = key;
      void this.log.notifyError(undefined, `TaskScope: ${problems.join('; ')}.`, [
        { title: 'Open Settings', run: () => void vscode.commands.executeCommand('workbench.action.openSettings', SECTION) },
      ]);
    }
    return mapper;
  }

  dispose(): void {
    for (const w of this.watchers) w.dispose();
  }
}
