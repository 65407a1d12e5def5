// Installed by `npm start` (scripts/start.js) next to TaskScope, never shipped. In code-server
// each browser window has its own extension host, so the demo program must be started from
// inside the window the person opens: this runs the real command on the demo file, once per
// window, as a click on "Run Python File with Task Tracing" would.
'use strict';
const vscode = require('vscode');

async function activate() {
  const folder = vscode.workspace.workspaceFolders && vscode.workspace.workspaceFolders[0];
  if (!folder) return;
  const file = vscode.Uri.joinPath(folder.uri, process.env.TASKSCOPE_DEMO_FILE || 'crawler.py');
  try {
    await vscode.workspace.fs.stat(file);
  } catch {
    return;
  }
  await vscode.window.showTextDocument(file, { preview: false });
  await vscode.commands.executeCommand('workbench.view.extension.taskscope');
  await vscode.commands.executeCommand('taskscope.runFile', file);
}

function deactivate() {}

module.exports = { activate, deactivate };
