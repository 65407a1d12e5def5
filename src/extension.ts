/**
 * Entry point: builds the parts in order and hands every disposable to the context.
 * Nothing slow happens here; the agent server is a local socket that starts at once.
 */

import * as path from 'path';
import * as vscode from 'vscode';
import { Commands, Views } from './constants';
import { registerCommand } from './contributes';
import { AgentServer } from './ipc/agentServer';
import { Log } from './log';
import { TaskModel } from './model/taskModel';
import { PROTOCOL_VERSION } from './protocol/messages';
import { DefaultInterpreterResolver } from './python/interpreter';
import { RunFileCommand } from './run/runFileCommand';
import { TaskTreeProvider, TasksViewNode } from './views/taskTreeProvider';

/** What the extension exports: for other extensions, and for the integration tests. */
export interface TaskScopeApi {
  readonly protocolVersion: number;
  /** Where traced programs connect (the value of `TASKSCOPE_CONNECT`). */
  readonly address: string;
  /** Every process and task the window knows. */
  readonly model: TaskModel;
  /** The "Tasks" view's data, exactly as the view shows it. */
  readonly tasksView: TaskTreeProvider;
  /** The folder that holds the bundled agent package. */
  readonly agentRoot: string;
}

export async function activate(context: vscode.ExtensionContext): Promise<TaskScopeApi> {
  const version = (context.extension.packageJSON as { version: string }).version;
  const log = new Log();
  const model = new TaskModel();
  const agentRoot = path.join(context.extensionPath, 'python');
  const server = await AgentServer.listen({ model, logger: log, extensionVersion: version });
  log.info(`TaskScope ${version} listening at ${server.address} (protocol ${PROTOCOL_VERSION})`);

  const tasksView = new TaskTreeProvider(model);
  const treeView = vscode.window.createTreeView(Views.tasks, { treeDataProvider: tasksView, showCollapseAll: true });
  const runFile = new RunFileCommand({
    log,
    interpreters: new DefaultInterpreterResolver(log),
    agentRoot,
    address: () => server.address,
  });

  context.subscriptions.push(
    log,
    { dispose: () => server.dispose() },
    model,
    tasksView,
    treeView,
    runFile,
    server.onProtocolMismatch((m) =>
      log.notifyError(
        `protocol-${m.agentProtocol}`,
        `TaskScope: the agent in process ${m.pid} speaks protocol ${m.agentProtocol} (agent ${m.agentVersion}), ` +
          `this extension speaks protocol ${m.extensionProtocol} (extension ${version}). ` +
          'Run the program with the agent that ships with this extension, or update the extension.',
      ),
    ),
    registerCommand(Commands.runFile, (uri?: vscode.Uri) => runFile.run(uri)),
    registerCommand(Commands.openCreationSite, (node?: TasksViewNode) => openCreationSite(model, treeView, node)),
    registerCommand(Commands.removeProcess, (node?: TasksViewNode) => {
      if (node?.kind === 'process' && !server.isConnected(node.processKey)) model.removeProcess(node.processKey);
    }),
    registerCommand(Commands.showLogs, () => log.show()),
  );

  return { protocolVersion: PROTOCOL_VERSION, address: server.address, model, tasksView, agentRoot };
}

/** Opens the line that created the task (the clicked row, or the view's selection). */
async function openCreationSite(
  model: TaskModel,
  treeView: vscode.TreeView<TasksViewNode>,
  node: TasksViewNode | undefined,
): Promise<vscode.TextEditor | undefined> {
  const target = node ?? treeView.selection[0];
  if (target?.kind !== 'task') return undefined;
  const site = model.task(target.processKey, target.taskId)?.site;
  if (!site) {
    void vscode.window.showInformationMessage('TaskScope: the creation site of this task is not known.');
    return undefined;
  }
  const line = Math.max(site.line - 1, 0);
  try {
    return await vscode.window.showTextDocument(vscode.Uri.file(site.file), {
      selection: new vscode.Range(line, 0, line, 0),
      preserveFocus: false,
    });
  } catch (e) {
    void vscode.window.showWarningMessage(`TaskScope: cannot open ${site.file}: ${(e as Error).message}`);
    return undefined;
  }
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
