/**
 * Entry point: builds the parts in order (log, agent server, model, views, diagnostics,
 * status bar, commands) and hands every disposable to the context in one place. Nothing
 * slow happens here; the agent server is a local socket that starts at once.
 */

import * as path from 'path';
import * as vscode from 'vscode';
import { openFrame, TaskCommands } from './commands/taskCommands';
import { Commands, ContextKeys, Views } from './constants';
import { getSetting, registerCommand } from './contributes';
import { FindingDiagnostics } from './findings/findingDiagnostics';
import { AgentServer } from './ipc/agentServer';
import { formatTcpAddress } from './ipc/listenHost';
import { loadRecording, RecordingSummary } from './ipc/recording';
import { LintFeature } from './lint/vscode/lintFeature';
import { Log } from './log';
import { FindingStore, shownPlace, withTaskEvidence } from './model/findings';
import { cancelledWith } from './model/taskRelations';
import { TaskModel } from './model/taskModel';
import { PROTOCOL_VERSION } from './protocol/messages';
import type { PathMapper } from './protocol/pathMappings';
import { DefaultInterpreterResolver } from './python/interpreter';
import { AgentTuning } from './run/agentEnvironment';
import { AttachChoice, copyAgentPackage, pickAndCopyAttachText } from './run/attachCommand';
import { AttachListener } from './run/attachListener';
import { DebugInjection } from './run/debugInjection';
import { PathMappingSetting } from './run/pathMappingSetting';
import { RunFileCommand } from './run/runFileCommand';
import { FindingsTreeProvider, FindingsViewNode } from './views/findingsTreeProvider';
import { RowDecorations } from './views/rowDecorations';
import { TaskScopeStatusBar } from './views/statusBar';
import { TaskTreeProvider, TasksViewNode } from './views/taskTreeProvider';
import { TasksViewOptions } from './views/tasksViewOptions';
import type { RowMark } from './views/taskText';

/** What the extension exports: for other extensions, and for the integration tests. */
export interface TaskScopeApi {
  readonly protocolVersion: number;
  /** Where traced programs connect (the value of `TASKSCOPE_CONNECT`). */
  readonly address: string;
  /** Every process and task the window knows. */
  readonly model: TaskModel;
  /** Runtime findings, as the Findings view and the Problems panel show them. */
  readonly findings: FindingStore;
  /** The "Tasks" view's data, exactly as the view shows it. */
  readonly tasksView: TaskTreeProvider;
  /** The "Findings" view's data. */
  readonly findingsView: FindingsTreeProvider;
  /** The status bar item's text now. */
  statusText(): string;
  /** The folder that holds the bundled agent package. */
  readonly agentRoot: string;
  /** Tasks that cancelling a task cancels too (what the confirmation names). */
  cancelledWith(processKey: string, taskId: string): string[];
  /**
   * Shows a row in the Tasks view and selects it, as a click would. Resolves with how long the
   * selection took to come back; rejects if it did not come back within `timeoutMs`.
   */
  reveal(node: TasksViewNode, timeoutMs?: number): Promise<number>;
  /** The rows selected in the Tasks view now. */
  selection(): readonly TasksViewNode[];
  /** What a row of the Tasks view shows besides its icon: badge, colour (a theme colour id), tooltip. */
  rowMark(node: TasksViewNode): RowMark | undefined;
  /** The gutter marks of blocked-loop lines in a file's visible editors: 0-based lines, hovers. */
  blockedMarks(uri: vscode.Uri): { line: number; hover: string }[];
}

function tuning(): AgentTuning {
  return {
    stuckThreshold: getSetting('agent.stuckThreshold'),
    blockedThreshold: getSetting('agent.blockedThreshold'),
    sampleInterval: getSetting('agent.sampleInterval'),
    historySeconds: getSetting('tasks.historySeconds'),
  };
}

export async function activate(context: vscode.ExtensionContext): Promise<TaskScopeApi> {
  const version = (context.extension.packageJSON as { version: string }).version;
  const log = new Log();
  const model = new TaskModel();
  const findings = new FindingStore();
  const agentRoot = path.join(context.extensionPath, 'python');
  const pathMappings = new PathMappingSetting(log);
  const serverOptions = { model, logger: log, extensionVersion: version, pathMapper: () => pathMappings.mapper() };
  const server = await AgentServer.listen(serverOptions);
  const servers = [server];
  log.info(`TaskScope ${version} listening at ${server.address} (protocol ${PROTOCOL_VERSION})`);

  const wireServer = (s: AgentServer): vscode.Disposable[] => [
    { dispose: () => s.dispose() },
    s.onEvent(({ processKey, event }) => findings.add(processKey, withTaskEvidence(event, event.task ? model.task(processKey, event.task) : undefined))),
    s.onProtocolMismatch((m) =>
      log.notifyError(
        `protocol-${m.agentProtocol}`,
        `TaskScope: the agent in process ${m.pid} speaks protocol ${m.agentProtocol} (agent ${m.agentVersion}), ` +
          `this extension speaks protocol ${m.extensionProtocol} (extension ${version}). ` +
          'Run the program with the agent that ships with this extension, or update the extension.',
      ),
    ),
  ];

  const tasksView = new TaskTreeProvider(model, findings);
  const rowDecorations = new RowDecorations(model, findings);
  const treeView = vscode.window.createTreeView(Views.tasks, { treeDataProvider: tasksView.forTreeView, showCollapseAll: true });
  const treeVisibility = treeView.onDidChangeVisibility((e) => (tasksView.visible = e.visible));
  tasksView.visible = treeView.visible;
  const findingsView = new FindingsTreeProvider(findings);
  const findingsTree = vscode.window.createTreeView(Views.findings, { treeDataProvider: findingsView });
  const viewOptions = new TasksViewOptions(context.workspaceState, tasksView, treeView, model);
  const diagnostics = new FindingDiagnostics(findings, context.extensionUri);
  const statusBar = new TaskScopeStatusBar(model, findings);
  const taskCommands = new TaskCommands(model, () => servers, treeView, tasksView, log);
  const runFile = new RunFileCommand({
    log,
    interpreters: new DefaultInterpreterResolver(log),
    agentRoot,
    address: () => server.address,
    tuning,
  });
  const debugInjection = new DebugInjection(agentRoot, () => server.address, tuning, log);
  const findingsKey = findings.onDidChange(() => void vscode.commands.executeCommand('setContext', ContextKeys.hasFindings, findings.all().length > 0));
  let hadExited = false;
  const exitedKey = model.onDidChange((change) => {
    if (!change.processChanged) return;
    const hasExited = model.processes().some((p) => p.status === 'exited');
    if (hasExited !== hadExited) void vscode.commands.executeCommand('setContext', ContextKeys.hasExitedProcesses, (hadExited = hasExited));
  });

  // The TCP listener starts on first use; a listener left behind by a change of host keeps
  // serving its connections, so it stays among `servers` until the window closes.
  const attachListener = new AttachListener(async (host) => {
    const s = await AgentServer.listen(serverOptions, { kind: 'tcp', host });
    servers.push(s);
    context.subscriptions.push(...wireServer(s));
    log.info(`also listening at ${formatTcpAddress(s.tcpEndpoint!.host, s.tcpEndpoint!.port)} (TCP, token required; from this machine: ${s.address})`);
    return s;
  }, log);
  const attachTargets = {
    agentRoot,
    localAddress: () => server.address,
    tuning,
    listenHost: () => attachListener.host(),
    tcp: () => attachListener.listener(),
  };

  const lint = new LintFeature(context, log);
  // What the agents see at run time shows up on the lint diagnostics of the same line.
  const runtimeEvidence = findings.onDidChange((change) => {
    for (const f of [...change.added, ...change.updated]) if (f.site) lint.recordRuntimeEvidence(f.site.file, f.site.line, f.kind, 1);
  });
  context.subscriptions.push(
    log,
    pathMappings,
    lint,
    runtimeEvidence,
    ...wireServer(server),
    model,
    findings,
    tasksView,
    rowDecorations,
    vscode.window.registerFileDecorationProvider(rowDecorations),
    treeView,
    treeVisibility,
    findingsView,
    findingsTree,
    viewOptions,
    diagnostics,
    statusBar,
    runFile,
    debugInjection,
    findingsKey,
    exitedKey,
    attachListener,
    registerCommand(Commands.runFile, (uri?: vscode.Uri) => runFile.run(uri)),
    registerCommand(Commands.attachCommand, (choice?: AttachChoice) => pickAndCopyAttachText(attachTargets, choice)),
    registerCommand(Commands.copyAgent, (folder?: vscode.Uri) => copyAgentPackage(agentRoot, folder)),
    registerCommand(Commands.openRecording, (uri?: vscode.Uri) => openRecording(uri, model, findings, log, pathMappings.mapper())),
    registerCommand(Commands.openCreationSite, (node?: TasksViewNode) => taskCommands.openCreationSite(node)),
    registerCommand(Commands.openAwaitPoint, (node?: TasksViewNode) => taskCommands.openAwaitPoint(node)),
    registerCommand(Commands.cancelTask, (node?: TasksViewNode, selection?: unknown, options?: { confirm?: boolean }) =>
      taskCommands.cancel(node, selection, options),
    ),
    registerCommand(Commands.cancelTaskTree, (node?: TasksViewNode, selection?: unknown, options?: { confirm?: boolean }) =>
      taskCommands.cancelTree(node, selection, options),
    ),
    registerCommand(Commands.copyStack, (node?: TasksViewNode) => taskCommands.copyStack(node)),
    registerCommand(Commands.revealCreator, (node?: TasksViewNode) => taskCommands.revealCreator(node)),
    registerCommand(Commands.removeProcess, (node?: TasksViewNode) => {
      if (node?.kind === 'process' && !servers.some((s) => s.isConnected(node.processKey))) model.removeProcess(node.processKey);
    }),
    registerCommand(Commands.removeExitedProcesses, () => {
      // Exited programs and opened recordings; returns how many rows went.
      const exited = model.processes().filter((p) => p.status === 'exited' && !servers.some((s) => s.isConnected(p.key)));
      for (const p of exited) model.removeProcess(p.key);
      return exited.length;
    }),
    registerCommand(Commands.arrangeByCreator, () => viewOptions.arrange('creator')),
    registerCommand(Commands.arrangeByAwaiter, () => viewOptions.arrange('awaiter')),
    registerCommand(Commands.arrangeFlat, () => viewOptions.arrange('flat')),
    registerCommand(Commands.filterTasks, (text?: string) => (typeof text === 'string' ? viewOptions.setFilter(text) : viewOptions.promptFilter())),
    registerCommand(Commands.clearFilter, () => viewOptions.setFilter('')),
    registerCommand(Commands.hideFinished, () => viewOptions.setHideFinished(true)),
    registerCommand(Commands.showFinished, () => viewOptions.setHideFinished(false)),
    registerCommand(Commands.openFinding, (node?: FindingsViewNode) => {
      const at = node?.kind === 'finding' ? shownPlace(node.finding) : undefined;
      return at ? openFrame(at, log) : undefined;
    }),
    registerCommand(Commands.clearFindings, () => findings.clear()),
    registerCommand(Commands.showLogs, () => log.show()),
  );

  return {
    protocolVersion: PROTOCOL_VERSION,
    address: server.address,
    model,
    findings,
    tasksView,
    findingsView,
    statusText: () => statusBar.text,
    agentRoot,
    cancelledWith: (processKey, taskId) => cancelledWith(model, processKey, taskId).map((t) => t.id),
    reveal: async (node, timeoutMs = 20000) => {
      // The selection comes back from the workbench a moment later, and a redraw in between
      // can drop it: ask again until the row is selected (compared by id: a redraw may hand
      // out a new object for the same row).
      const started = Date.now();
      const selected = () => treeView.selection.some((n) => n.id === node.id);
      while (!selected()) {
        if (Date.now() - started > timeoutMs) {
          throw new Error(`row ${node.id} not selected ${timeoutMs} ms after reveal (selection: ${treeView.selection.map((n) => n.id).join(', ') || 'none'}; view visible: ${treeView.visible})`);
        }
        await treeView.reveal(node, { select: true, focus: true });
        for (let i = 0; i < 20 && !selected(); i++) await new Promise((r) => setTimeout(r, 50));
      }
      return Date.now() - started;
    },
    selection: () => treeView.selection,
    rowMark: (node) => {
      const uri = tasksView.getTreeItem(node).resourceUri;
      return uri ? rowDecorations.mark(uri) : undefined;
    },
    blockedMarks: (uri) =>
      diagnostics.blockedMarks(uri).map((m) => ({
        line: m.range.start.line,
        hover: m.hoverMessage instanceof vscode.MarkdownString ? m.hoverMessage.value : String(m.hoverMessage ?? ''),
      })),
  };
}

async function openRecording(
  uri: vscode.Uri | undefined,
  model: TaskModel,
  findings: FindingStore,
  log: Log,
  pathMapper: PathMapper | undefined,
): Promise<RecordingSummary | undefined> {
  const target =
    uri ??
    (
      await vscode.window.showOpenDialog({
        title: 'Open a TaskScope Recording',
        canSelectMany: false,
        filters: { 'TaskScope recordings': ['taskscope', 'jsonl', 'ndjson'], 'All files': ['*'] },
      })
    )?.[0];
  if (!target) return undefined;
  let text: string;
  try {
    text = new TextDecoder().decode(await vscode.workspace.fs.readFile(target));
  } catch (e) {
    await log.notifyError(undefined, `TaskScope: cannot read ${target.fsPath}: ${(e as Error).message}`);
    return undefined;
  }
  const summary = loadRecording(text, path.basename(target.fsPath), model, findings, log, pathMapper);
  if (summary.processKey === undefined) {
    await log.notifyError(undefined, `TaskScope: ${target.fsPath} is not a TaskScope recording (no 'hello' line).`);
  } else if (summary.invalid || summary.truncated) {
    void log.notifyWarning(
      `TaskScope: opened ${path.basename(target.fsPath)}` +
        (summary.invalid ? `; ${summary.invalid} invalid lines were skipped (the first is in the log)` : '') +
        (summary.truncated ? '; the recording ends before the program exited' : '') +
        '.',
    );
  }
  return summary;
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
