// Runs the same extension tests in the Electron build of VS Code, for machines that can download
// it (`node scripts/test.js integration --electron`). The machines of this project cannot: there
// the tests run in code-server instead (test/integration/runInCodeServer.js).
import * as path from 'path';
import { runTests } from '@vscode/test-electron';

async function main(): Promise<void> {
  // Compiled to out/test/integration/electronRunner.js: the repository root is three folders up.
  const root = path.resolve(__dirname, '..', '..', '..');
  const resultsFile = process.env.TASKSCOPE_TEST_RESULTS || path.join(root, 'artifacts', 'integration', 'results.json');
  await runTests({
    version: process.env.TASKSCOPE_VSCODE_VERSION || '1.100.3',
    cachePath: path.join(root, '.cache', 'vscode-test'),
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(__dirname, 'index'),
    extensionTestsEnv: { TASKSCOPE_TEST_RESULTS: resultsFile },
    launchArgs: [
      path.join(root, 'test', 'fixtures', 'workspace'),
      '--disable-workspace-trust',
      '--skip-welcome',
      '--skip-release-notes',
      '--user-data-dir',
      // scripts/test.js writes the test settings there first (quiet workbench, terminals
      // without the machine's shell startup files).
      process.env.TASKSCOPE_TEST_USER_DATA || path.join(root, '.cache', 'vscode-test', 'user-data'),
    ],
  });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
