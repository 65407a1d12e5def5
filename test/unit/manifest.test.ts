import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { Commands, ContextKeys, SETTING_KEYS, Views } from '../../src/constants';
import { REPO_ROOT } from './repo';

const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));

describe('package.json agrees with src/constants.ts', () => {
  it('contributes exactly the commands the code registers, in the TaskScope category', () => {
    const contributed = manifest.contributes.commands.map((c: { command: string }) => c.command).sort();
    assert.deepStrictEqual(contributed, Object.values(Commands).sort());
    for (const c of manifest.contributes.commands) assert.strictEqual(c.category, 'TaskScope', c.command);
  });

  it('contributes one view container with the Tasks and Findings views, each with a welcome', () => {
    assert.deepStrictEqual(manifest.contributes.viewsContainers.activitybar.map((c: { id: string }) => c.id), [Views.container]);
    assert.deepStrictEqual(manifest.contributes.views[Views.container].map((v: { id: string }) => v.id), [Views.tasks, Views.findings]);
    for (const view of [Views.tasks, Views.findings]) {
      assert.ok(manifest.contributes.viewsWelcome.some((w: { view: string }) => w.view === view), view);
    }
  });

  it('offers at most three inline actions per kind of row', () => {
    const inline = manifest.contributes.menus['view/item/context'].filter((m: { group: string }) => m.group.startsWith('inline'));
    for (const kind of ['task', 'process', 'finding']) {
      const n = inline.filter((m: { when: string }) => m.when.includes(`\\b${kind}\\b`)).length;
      assert.ok(n <= 3, `${n} inline actions on ${kind} rows`);
    }
  });

  it('uses only context keys and view ids the code defines', () => {
    const whens: string[] = Object.values(manifest.contributes.menus as Record<string, { when?: string }[]>).flat().map((m) => m.when ?? '');
    for (const when of whens) {
      for (const key of when.match(/taskscope\.[\w.]+/g) ?? []) {
        const known = [...Object.values(Views), ...Object.values(ContextKeys), ...Object.values(Commands)] as string[];
        assert.ok(known.includes(key), `unknown id ${key} in "${when}"`);
      }
    }
  });

  it('contributes every setting, each with a description', () => {
    const props = manifest.contributes.configuration.properties;
    assert.deepStrictEqual(Object.keys(props).sort(), SETTING_KEYS.map((k) => `taskscope.${k}`).sort());
    for (const [key, value] of Object.entries(props)) assert.ok((value as { markdownDescription?: string }).markdownDescription, key);
  });

  it('admits VS Code 1.100, the version the tests run', () => {
    assert.match(manifest.engines.vscode, /^\^1\.(\d+)\.\d+$/);
    assert.ok(Number(/^\^1\.(\d+)/.exec(manifest.engines.vscode)![1]) <= 100);
  });

  it('hides item-only commands from the command palette', () => {
    const hidden = manifest.contributes.menus.commandPalette.filter((m: { when: string }) => m.when === 'false').map((m: { command: string }) => m.command);
    const itemOnly = [
      Commands.openCreationSite, Commands.openAwaitPoint, Commands.cancelTask, Commands.cancelTaskTree,
      Commands.copyStack, Commands.revealCreator, Commands.removeProcess, Commands.openFinding,
    ];
    assert.deepStrictEqual(hidden.sort(), itemOnly.sort());
  });
});
