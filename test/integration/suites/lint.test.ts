// The linter in a real VS Code, through public surfaces only: diagnostics in
// `vscode.languages.getDiagnostics`, quick fixes through `vscode.executeCodeActionProvider` and
// `workspace.applyEdit`, the Lint Workspace command, and the `taskscope.lint.rules` setting.
import * as assert from 'assert';
import * as fs from 'fs';
import * as vscode from 'vscode';
import { EXTENSION_ID, until, workspaceFile } from '../support';

/** TaskScope's diagnostics for a document. */
function lintDiagnostics(uri: vscode.Uri, code?: string): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'TaskScope' && (code === undefined || d.code === code));
}

async function setRules(rules: Record<string, string> | undefined): Promise<void> {
  await vscode.workspace.getConfiguration('taskscope').update('lint.rules', rules, vscode.ConfigurationTarget.Global);
}

describe('Lint, in the editor', function () {
  this.timeout(60000);
  const dangling = () => workspaceFile('dangling.py');
  const danglingLine = () => fs.readFileSync(dangling().fsPath, 'utf8').split('\n').findIndex((l) => l.includes('asyncio.create_task(heartbeat'));
  const scratch: vscode.TextDocument[] = [];

  before(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)!.activate();
  });

  after(async () => {
    await setRules(undefined);
    for (const doc of scratch) {
      await vscode.window.showTextDocument(doc);
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    }
  });

  it('shows a dangling task in a workspace file as a TSK001 warning from TaskScope', async () => {
    await vscode.window.showTextDocument(dangling());
    const [d] = await until('a TSK001 diagnostic in dangling.py', () => {
      const found = lintDiagnostics(dangling(), 'TSK001');
      return found.length ? found : undefined;
    });
    assert.strictEqual(d.range.start.line, danglingLine());
    assert.strictEqual(d.range.start.character, 4);
    assert.strictEqual(d.severity, vscode.DiagnosticSeverity.Warning);
    assert.match(d.message, /^Dangling task: .*weak reference/);
    assert.deepStrictEqual(lintDiagnostics(dangling()).map((x) => x.code), ['TSK001'], 'nothing else in that file');
  });

  for (const [title, text] of [
    [/^Keep a reference in the module-level set/, 'import asyncio\n\n\nasync def main(job):\n    asyncio.create_task(job())\n'],
    [/^Await the task$/, 'import asyncio\n\n\nasync def main(job):\n    asyncio.create_task(job())\n'],
    [/^Add `await`$/, 'import asyncio\n\n\nasync def main():\n    asyncio.sleep(1)\n'],
  ] as const) {
    it(`quick fix "${title.source}" through the code-action API leaves no finding`, async () => {
      const doc = await vscode.workspace.openTextDocument({ language: 'python', content: text });
      scratch.push(doc);
      await vscode.window.showTextDocument(doc);
      const [d] = await until('a diagnostic in the scratch document', () => {
        const found = lintDiagnostics(doc.uri);
        return found.length ? found : undefined;
      });
      const actions = (await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, d.range, vscode.CodeActionKind.QuickFix.value)) ?? [];
      const action = actions.find((a) => title.test(a.title));
      assert.ok(action?.edit, `no quick fix ${title} among: ${actions.map((a) => a.title).join(', ')}`);
      assert.ok(await vscode.workspace.applyEdit(action.edit), 'the edit was not applied');
      assert.notStrictEqual(doc.getText(), text);
      await until('no TaskScope diagnostic after the fix', () => lintDiagnostics(doc.uri).length === 0, 10000);
      // And it stays clean once the debounced re-lint of the edit has run.
      await new Promise((r) => setTimeout(r, 800));
      assert.deepStrictEqual(lintDiagnostics(doc.uri).map((x) => x.message), [], doc.getText());
    });
  }

  it('lints files that are not open with the Lint Workspace command', async () => {
    const summary = await vscode.commands.executeCommand<{ files: number; findings: number }>('taskscope.lintWorkspace');
    assert.ok(summary && summary.files >= 3, `linted ${summary?.files} files`);
    assert.ok(summary.findings >= 1);
    assert.strictEqual(lintDiagnostics(dangling(), 'TSK001').length, 1);
  });

  it('changes the severity, and turns a rule off, from the taskscope.lint.rules setting', async () => {
    await vscode.window.showTextDocument(dangling());
    await setRules({ TSK001: 'error' });
    await until('TSK001 as an error', () => lintDiagnostics(dangling(), 'TSK001')[0]?.severity === vscode.DiagnosticSeverity.Error);
    await setRules({ TSK001: 'off' });
    await until('TSK001 turned off', () => lintDiagnostics(dangling(), 'TSK001').length === 0);
    await setRules(undefined);
    await until('TSK001 back as a warning', () => lintDiagnostics(dangling(), 'TSK001')[0]?.severity === vscode.DiagnosticSeverity.Warning);
  });
});
