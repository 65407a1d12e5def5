// Smoke test of the extension in a real VS Code: it is there, it activates, and its public
// surface (exported API and commands) is what the rest of the tests rely on.
import * as assert from 'assert';
import * as vscode from 'vscode';
import { EXTENSION_ID } from '../support';

describe('TaskScope activation', () => {
  it('runs in VS Code 1.100', () => {
    assert.match(vscode.version, /^1\.100\./, `VS Code version is ${vscode.version}`);
  });

  it('is installed and activates', async function () {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `extension ${EXTENSION_ID} is not loaded`);
    await extension.activate();
    assert.strictEqual(extension.isActive, true);
  });

  it('exports an API whose address is a Unix socket', async () => {
    const extension = vscode.extensions.getExtension<{ address?: unknown }>(EXTENSION_ID);
    assert.ok(extension, `extension ${EXTENSION_ID} is not loaded`);
    const api = await extension.activate();
    assert.ok(api && typeof api === 'object', 'activate() returned no API object');
    assert.strictEqual(typeof api.address, 'string', `api.address is ${typeof api.address}`);
    assert.match(api.address as string, /^unix:\//, `api.address is ${String(api.address)}`);
  });

  it('registers every command it contributes', async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID)!;
    await extension.activate();
    const registered = new Set(await vscode.commands.getCommands(true));
    const contributed = (extension.packageJSON.contributes.commands as { command: string }[]).map((c) => c.command);
    assert.ok(contributed.length > 20, `only ${contributed.length} commands contributed`);
    assert.deepStrictEqual(contributed.filter((id) => !registered.has(id)), [], 'contributed but not registered');
  });
});
