/**
 * "TaskScope: Attach a Program Started Elsewhere…": the exact environment or command line
 * that starts a program with the agent connected to this window — through this window's
 * private socket on the same machine, or over TCP on 127.0.0.1 with a token for a container
 * or another user (the TCP listener starts only when asked for).
 */

import * as vscode from 'vscode';
import { AgentTuning, bootstrapFolder, quotePosix } from './agentEnvironment';

export interface AttachTargets {
  readonly agentRoot: string;
  localAddress(): string;
  /** Starts the TCP listener on first use; returns its address and token. */
  tcp(): Promise<{ address: string; token: string }>;
  tuning(): AgentTuning;
}

export type AttachChoice = 'local-run' | 'local-env' | 'tcp';

/** The text to copy for each choice (POSIX shell syntax). */
export async function attachText(targets: AttachTargets, choice: AttachChoice): Promise<string> {
  const python = quotePosix(targets.agentRoot);
  switch (choice) {
    case 'local-run':
      return `PYTHONPATH=${python} python3 -m taskscope run --connect ${quotePosix(targets.localAddress())} your_app.py`;
    case 'local-env':
      return `export PYTHONPATH=${quotePosix(bootstrapFolder(targets.agentRoot))}\${PYTHONPATH:+:$PYTHONPATH} TASKSCOPE_CONNECT=${quotePosix(targets.localAddress())}`;
    case 'tcp': {
      const { address, token } = await targets.tcp();
      return `TASKSCOPE_TOKEN=${token} PYTHONPATH=${python} python3 -m taskscope run --connect ${address} your_app.py`;
    }
  }
}

export async function pickAndCopyAttachText(targets: AttachTargets, preset?: AttachChoice): Promise<string | undefined> {
  let choice = preset;
  if (!choice) {
    const picked = await vscode.window.showQuickPick(
      [
        { label: '$(terminal) Command line, this machine', description: 'python -m taskscope run, through this window\'s private socket', choice: 'local-run' as const },
        { label: '$(symbol-variable) Environment variables, this machine', description: 'loads the agent into any python you start afterwards', choice: 'local-env' as const },
        { label: '$(plug) Command line over TCP with a token', description: 'for a container or another user: 127.0.0.1 only', choice: 'tcp' as const },
      ],
      { title: 'Attach a Program Started Elsewhere', placeHolder: 'How will you start the program?' },
    );
    choice = picked?.choice;
  }
  if (!choice) return undefined;
  const text = await attachText(targets, choice);
  await vscode.env.clipboard.writeText(text);
  void vscode.window.showInformationMessage(
    choice === 'tcp'
      ? 'TaskScope: copied a command that connects over TCP (127.0.0.1) with a token. The taskscope package (the extension\'s python/ folder) must be importable where the program runs.'
      : 'TaskScope: copied. Replace your_app.py with your program and run it in a terminal on this machine.',
  );
  return text;
}
