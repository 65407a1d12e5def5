// Findings in the editor, through public surfaces: a recorded run (the lines an agent sends)
// opened with the command shows its findings in the Problems panel's data
// (vscode.languages.getDiagnostics), the Findings view, the Tasks view and the status bar.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { TaskScopeApi } from '../../../src/extension';
import { EXTENSION_ID, until } from '../support';

describe('Findings', function () {
  this.timeout(30000);
  let api: TaskScopeApi;
  let program: vscode.Uri;
  let recording: string;

  before(async () => {
    api = (await vscode.extensions.getExtension<TaskScopeApi>(EXTENSION_ID)!.activate())!;
    program = vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, 'nested_tasks.py');
    const file = program.fsPath;
    const site = (line: number, fn: string) => ({ file, line, function: fn, user: true });
    const task = (id: string, parent: string | null, name: string, line: number) => ({
      id, name, coro: name, state: 'pending', parent, loop: 'l1', created: 1, site: parent ? site(line, 'main') : null,
    });
    const lines = [
      { type: 'hello', protocol: 1, agent: '0.1.0', pid: 999999, python: '3.11.7', argv: [file] },
      { type: 'snapshot', seq: 1, time: 1, loops: [], tasks: [task('t1', null, 'main', 0), task('t2', 't1', 'branch', 20), task('t3', 't2', 'leaf', 15)] },
      { type: 'event', seq: 2, time: 2, kind: 'fire-and-forget', task: 't3', site: site(15, 'branch'), message: "Task 'leaf' was created and its only reference dropped" },
      { type: 'event', seq: 3, time: 3, kind: 'fire-and-forget', task: 't3', site: site(15, 'branch'), message: "Task 'leaf' was created and its only reference dropped" },
      {
        type: 'event', seq: 4, time: 4, kind: 'loop-blocked', task: 't2', site: site(8, 'leaf'),
        message: 'The event loop was blocked for 1.20 s in leaf (nested_tasks.py:8)',
        evidence: { blockedMs: 1200, loop: 'l1', blocking: site(8, 'leaf'), stack: [site(8, 'leaf'), { file: '/usr/lib/python3.11/time.py', line: 1, function: 'sleep' }] },
      },
      { type: 'bye', exitCode: 0 },
    ];
    recording = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'taskscope-rec-')), 'run.taskscope');
    fs.writeFileSync(recording, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    await vscode.commands.executeCommand('taskscope.clearFindings');
  });

  it('opens a recording as an exited process with its tasks', async () => {
    const summary = (await vscode.commands.executeCommand('taskscope.openRecording', vscode.Uri.file(recording))) as { processKey: string; findings: number };
    assert.strictEqual(summary.findings, 3);
    const info = api.model.process(summary.processKey)!;
    assert.strictEqual(info.status, 'exited');
    assert.strictEqual(info.exitCode, 0);
    assert.match(info.title, /\(recording\)$/);
    assert.deepStrictEqual(api.model.children(summary.processKey, 't2').map((t) => t.name), ['leaf']);
  });

  it('puts each finding in the Problems panel at its line, repeats counted, with related places', async () => {
    const diagnostics = await until('TaskScope diagnostics', () => {
      const d = vscode.languages.getDiagnostics(program).filter((x) => x.source === 'TaskScope');
      return d.length === 2 ? d : undefined;
    });
    const fire = diagnostics.find((d) => d.code === 'fire-and-forget')!;
    assert.strictEqual(fire.range.start.line, 14);
    assert.strictEqual(fire.severity, vscode.DiagnosticSeverity.Warning);
    assert.match(fire.message, /^Fire-and-forget task: Task 'leaf' .*\(seen 2 times\)$/);
    // A blocked loop: at the line that created the running task (branch, line 20), the blocking
    // line (8) first among the related places (the recording's agent did not send the creation
    // site: it comes from the task's record).
    const blocked = diagnostics.find((d) => d.code === 'loop-blocked')!;
    assert.strictEqual(blocked.range.start.line, 19);
    assert.strictEqual(blocked.relatedInformation?.[0].location.uri.fsPath, program.fsPath);
    assert.strictEqual(blocked.relatedInformation?.[0].location.range.start.line, 7);
    assert.match(blocked.relatedInformation![0].message, /^where the loop was blocked: leaf$/);
    assert.strictEqual(blocked.relatedInformation?.[1].location.uri.fsPath, '/usr/lib/python3.11/time.py');
    assert.match(blocked.relatedInformation![1].message, /innermost frame while blocked/);
  });

  it('groups findings by kind with counts in the Findings view, and marks the task in the Tasks view', async () => {
    const groups = api.findingsView.getChildren();
    assert.deepStrictEqual(groups.map((g) => api.findingsView.getTreeItem(g).label), ['Fire-and-forget task', 'Event loop blocked']);
    assert.deepStrictEqual(groups.map((g) => api.findingsView.getTreeItem(g).description), ['2', '1']);
    const [row] = api.findingsView.getChildren(groups[0]);
    assert.strictEqual(api.findingsView.getTreeItem(row).description, 'nested_tasks.py:15 ×2');
    const key = api.model.processes().find((p) => p.title.endsWith('(recording)'))!.key;
    const leaf = api.tasksView.taskNode(key, 't3');
    // The state icon stays (greyed: the process exited); the finding adds a badge and colour.
    assert.strictEqual((api.tasksView.getTreeItem(leaf).iconPath as vscode.ThemeIcon).id, 'watch');
    assert.deepStrictEqual(api.rowMark(leaf), { badge: '1', tooltip: 'Fire-and-forget task', color: 'list.warningForeground' });
    assert.match(String(api.tasksView.getTreeItem(leaf).accessibilityInformation?.label), /findings: Fire-and-forget task$/);
    assert.deepStrictEqual(api.rowMark(api.tasksView.taskNode(key, 't1')), { color: 'disabledForeground' });
    await until('the status bar to count the findings', () => api.statusText().includes('$(warning) 2'));
  });

  it('opens the finding\'s line from the Findings view', async () => {
    const [group] = api.findingsView.getChildren();
    const [row] = api.findingsView.getChildren(group);
    const click = api.findingsView.getTreeItem(row).command!;
    await vscode.commands.executeCommand(click.command, ...(click.arguments ?? []));
    const editor = await until('the editor', () => vscode.window.activeTextEditor);
    assert.strictEqual(editor.document.uri.fsPath, program.fsPath);
    assert.strictEqual(editor.selection.active.line, 14);
  });

  it('marks the line that blocked the loop in the gutter of its editor, with a hover that says for how long', async () => {
    await vscode.window.showTextDocument(program);
    const [mark] = await until('a blocked-loop mark', () => {
      const marks = api.blockedMarks(program);
      return marks.length ? marks : undefined;
    });
    assert.strictEqual(mark.line, 7);
    assert.match(mark.hover, /the event loop was blocked here\*\* for 1\.2\d* s/);
    assert.match(mark.hover, /blocked for 1\.20 s in leaf/);
  });

  it('adds what was seen at run time to the lint diagnostic of the same line', async () => {
    const dangling = vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, 'dangling.py');
    await vscode.window.showTextDocument(dangling);
    const lintAt13 = () => vscode.languages.getDiagnostics(dangling).find((d) => d.code !== undefined && String(typeof d.code === 'object' ? d.code.value : d.code) === 'TSK001' && d.range.start.line === 12);
    await until('the TSK001 lint diagnostic', lintAt13);
    const site = { file: dangling.fsPath, line: 13, function: 'main', user: true };
    const lines = [
      { type: 'hello', protocol: 1, agent: '0.1.0', pid: 999998, python: '3.11.7', argv: [dangling.fsPath] },
      { type: 'snapshot', seq: 1, time: 1, loops: [], tasks: [] },
      { type: 'event', seq: 2, time: 2, kind: 'destroyed-pending', task: 't2', site, message: "Task 'Task-2' (heartbeat) was destroyed while pending" },
      { type: 'event', seq: 3, time: 3, kind: 'destroyed-pending', task: 't3', site, message: "Task 'Task-3' (heartbeat) was destroyed while pending" },
    ];
    const file = path.join(path.dirname(recording), 'dangling.taskscope');
    fs.writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    await vscode.commands.executeCommand('taskscope.openRecording', vscode.Uri.file(file));
    const annotated = await until('the runtime evidence on the lint diagnostic', () => {
      const d = lintAt13();
      return d && /seen at runtime: 2 tasks destroyed while pending/.test(d.message) ? d : undefined;
    });
    assert.strictEqual(annotated.source, 'TaskScope');
  });

  it('keeps findings until cleared', async () => {
    await vscode.commands.executeCommand('taskscope.clearFindings');
    await until('the diagnostics to go', () => vscode.languages.getDiagnostics(program).every((d) => d.source !== 'TaskScope'));
    assert.deepStrictEqual(api.findingsView.getChildren(), []);
    await until('the gutter mark to go', () => api.blockedMarks(program).length === 0);
  });
});
