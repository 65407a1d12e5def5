/**
 * "TaskScope: Attach a Program Started Elsewhere…": copies the exact environment or command
 * line that starts a program with the agent connected to this window — through this window's
 * private socket on the same machine, or over TCP with a token (another user, a container):
 * on 127.0.0.1, or where `taskscope.attach.listenHost` says (attachListener.ts). The TCP
 * listener starts only when asked for. The words are in attachText.ts.
 *
 * "TaskScope: Copy the Agent Package into a Folder…": puts a copy of the agent (the
 * `taskscope` package, standard library only) where a container or another machine can
 * import it.
 */

import * as path from 'path';
import * as vscode from 'vscode';
import { Commands } from '../constants';
import type { AgentTuning } from './agentEnvironment';
import { AttachChoice, attachChoices, attachNotice, attachText, TcpListener } from './attachText';

export type { AttachChoice } from './attachText';

export interface AttachTargets {
  readonly agentRoot: string;
  localAddress(): string;
  /** The host the TCP listener binds, or will (the setting, checked). */
  listenHost(): string;
  /** Starts the TCP listener on first use; undefined if it cannot listen (already reported). */
  tcp(): Promise<TcpListener | undefined>;
  tuning(): AgentTuning;
}

export async function pickAndCopyAttachText(targets: AttachTargets, preset?: AttachChoice): Promise<string | undefined> {
  let choice = preset;
  if (!choice) {
    const picked = await vscode.window.showQuickPick(attachChoices(targets.listenHost()), {
      title: 'Attach a Program Started Elsewhere',
      placeHolder: 'How will you start the program?',
    });
    choice = picked?.choice;
  }
  if (!choice) return undefined;
  const tcp = choice === 'tcp' || choice === 'container' ? await targets.tcp() : undefined;
  if ((choice === 'tcp' || choice === 'container') && !tcp) return undefined;
  // On Windows the terminal's default shell is PowerShell, as for the Run command (agentEnvironment.ts).
  const shell = process.platform === 'win32' ? 'powershell' : 'posix';
  const text = attachText({ agentRoot: targets.agentRoot, localAddress: targets.localAddress(), tcp, tuning: targets.tuning() }, choice, shell);
  await vscode.env.clipboard.writeText(text);
  const copyAgent = 'Copy the Agent into a Folder…';
  void vscode.window.showInformationMessage(attachNotice(choice, tcp), ...(choice === 'container' ? [copyAgent] : [])).then((action) => {
    if (action === copyAgent) void vscode.commands.executeCommand(Commands.copyAgent);
  });
  return text;
}

/** Files of the agent package that a copy leaves out. */
function skipped(name: string): boolean {
  return name === '__pycache__' || name.endsWith('.pyc');
}

async function copyTree(from: vscode.Uri, to: vscode.Uri): Promise<number> {
  await vscode.workspace.fs.createDirectory(to);
  let files = 0;
  for (const [name, type] of await vscode.workspace.fs.readDirectory(from)) {
    if (skipped(name)) continue;
    const source = vscode.Uri.joinPath(from, name);
    const target = vscode.Uri.joinPath(to, name);
    if (type & vscode.FileType.Directory) files += await copyTree(source, target);
    else if (type & vscode.FileType.File) {
      await vscode.workspace.fs.copy(source, target, { overwrite: true });
      files++;
    }
  }
  return files;
}

/**
 * Copies the agent package into `<folder>/taskscope` (asking for the folder when none is
 * given). Returns the package's new path.
 */
export async function copyAgentPackage(agentRoot: string, folder?: vscode.Uri): Promise<string | undefined> {
  const target =
    folder instanceof vscode.Uri
      ? folder
      : (
          await vscode.window.showOpenDialog({
            title: 'Copy the TaskScope Agent into a Folder',
            openLabel: 'Copy the Agent Here',
            canSelectFiles: false,
            canSelectFolders: true,
            canSelectMany: false,
            defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
          })
        )?.[0];
  if (!target) return undefined;
  const destination = vscode.Uri.joinPath(target, 'taskscope');
  const files = await copyTree(vscode.Uri.file(path.join(agentRoot, 'taskscope')), destination);
  void vscode.window.showInformationMessage(
    `TaskScope: copied the agent (${files} files) to ${destination.fsPath}. Where the program runs, put the folder that holds it ` +
      `(${target.fsPath} here, wherever the container sees it) on PYTHONPATH, then start the program with python3 -m taskscope run.`,
  );
  return destination.fsPath;
}
