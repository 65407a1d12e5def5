// code-server (VS Code in the browser, from the npm registry): install into the cache folder
// without its downloading post-install steps, start it on loopback, install a .vsix into it.
// The recipe is /work/shared/notes/real-vscode.md of the project's shared notes.
'use strict';
const fs = require('fs');
const path = require('path');
const paths = require('./paths');
const proc = require('./proc');
const { ensureDebPackages } = require('./system');
const { waitForHttp } = require('./net');

/** 4.100.x is VS Code 1.100 and the last code-server line that runs on Node 20. */
const VERSION = '4.100.3';
const installDir = path.join(paths.cache, `code-server-${VERSION}`);
const packageDir = path.join(installDir, 'node_modules', 'code-server');
const vscodeDir = path.join(packageDir, 'lib', 'vscode');
const entry = path.join(packageDir, 'out', 'node', 'entry.js');
const marker = path.join(installDir, '.installed.json');

/** Native modules that must have been compiled (relative to the install folder). */
const NATIVE_FILES = [
  'node_modules/argon2',
  'node_modules/code-server/lib/vscode/node_modules/kerberos',
  'node_modules/code-server/lib/vscode/node_modules/node-pty',
  'node_modules/code-server/lib/vscode/node_modules/@vscode/spdlog',
  // @parcel/watcher ships its binary prebuilt, in a package per platform.
  `node_modules/code-server/lib/vscode/node_modules/@parcel/watcher-linux-${process.arch}-glibc`,
  'node_modules/code-server/lib/vscode/node_modules/native-watchdog',
];
const RG = 'node_modules/code-server/lib/vscode/node_modules/@vscode/ripgrep/bin/rg';

/** Debian packages code-server (and the browser driving it) needs. */
const DEB_PACKAGES = ['libkrb5-dev', 'ripgrep', 'chromium'];

function findNodeFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true })
    .filter((f) => String(f).endsWith('.node'))
    .map((f) => path.join(dir, String(f)));
}

/** What is wrong with an install folder (empty list: nothing). */
function problems(dir) {
  const found = [];
  for (const rel of NATIVE_FILES) {
    if (!findNodeFiles(path.join(dir, rel)).length) found.push(`no compiled .node file under ${rel}`);
  }
  if (!fs.existsSync(path.join(dir, RG))) found.push(`missing ${RG}`);
  if (!fs.existsSync(path.join(dir, 'node_modules/code-server/out/node/entry.js'))) found.push('missing entry.js');
  return found;
}

function installedOk() {
  try {
    const m = JSON.parse(fs.readFileSync(marker, 'utf8'));
    return m.version === VERSION && m.nodeModules === process.versions.modules && !problems(installDir).length;
  } catch {
    return false;
  }
}

/**
 * Makes sure code-server is installed in .cache/code-server-VERSION (about 3 minutes the first
 * time, nothing afterwards). Builds in a temporary folder and renames it into place once the
 * compiled native modules are checked, then writes the marker, so an interrupted install is
 * never mistaken for a good one.
 */
async function ensureCodeServer(log = console.log) {
  await ensureDebPackages(DEB_PACKAGES, log);
  if (installedOk()) return;
  fs.mkdirSync(paths.cache, { recursive: true });
  const logFile = path.join(paths.cache, `code-server-${VERSION}-install.log`);
  fs.writeFileSync(logFile, '');
  const tmp = `${installDir}.partial-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  log(`Installing code-server ${VERSION} into ${path.relative(paths.root, installDir)}/ (a few minutes; log: ${path.relative(paths.root, logFile)})`);
  const started = Date.now();
  const npm = (cwd, args, step) => {
    log(`  ${step}`);
    return proc.runOrThrow('npm', [...args, '--no-audit', '--no-fund'], { cwd, logFile });
  };
  const npmRebuild = async (cwd, mod) => {
    log(`  npm rebuild ${mod}`);
    const result = await proc.run('npm', ['rebuild', mod], { cwd, logFile });
    // node-pty's rebuild ends non-zero (its post-install runs `npx node-gyp` for a
    // compile_commands.json) although pty.node is built: the .node files are checked below.
    if (result.code !== 0 && mod !== 'node-pty') {
      throw new Error(`npm rebuild ${mod} failed (exit code ${result.code}); see ${logFile}`);
    }
  };
  try {
    fs.writeFileSync(path.join(tmp, 'package.json'), JSON.stringify({ name: 'code-server-cache', private: true }) + '\n');
    await npm(tmp, ['install', '--ignore-scripts', `code-server@${VERSION}`], `npm install code-server@${VERSION}`);
    await npmRebuild(tmp, 'argon2');
    const vsc = path.join(tmp, 'node_modules', 'code-server', 'lib', 'vscode');
    await npm(vsc, ['install', '--omit=dev', '--ignore-scripts'], 'npm install (lib/vscode)');
    for (const mod of ['kerberos', '@vscode/spdlog', '@vscode/deviceid', '@parcel/watcher', 'native-watchdog', 'node-pty']) {
      await npmRebuild(vsc, mod);
    }
    const rg = path.join(tmp, RG);
    fs.mkdirSync(path.dirname(rg), { recursive: true });
    fs.copyFileSync('/usr/bin/rg', rg);
    fs.chmodSync(rg, 0o755);
    await npm(path.join(vsc, 'extensions'), ['install', '--omit=dev', '--ignore-scripts'], 'npm install (lib/vscode/extensions)');
    const bad = problems(tmp);
    if (bad.length) throw new Error(`code-server install is incomplete:\n  ${bad.join('\n  ')}\nSee ${logFile}`);
    fs.rmSync(installDir, { recursive: true, force: true });
    fs.renameSync(tmp, installDir);
    fs.writeFileSync(
      marker,
      JSON.stringify({ version: VERSION, nodeModules: process.versions.modules, node: process.version, at: new Date().toISOString() }, null, 2) + '\n',
    );
    log(`code-server ${VERSION} installed in ${Math.round((Date.now() - started) / 1000)} s`);
  } catch (err) {
    if (!process.env.TASKSCOPE_KEEP_PARTIAL) fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Starts code-server on 127.0.0.1:`port` with its own user-data and extensions folders and
 * waits until it answers. `env` is added to its environment (it reaches the extension host);
 * `settings` to the user settings.
 * Returns {url, child, stop()}.
 */
async function startCodeServer({ port, dataDir, workspace, env = {}, settings = {}, logFile, timeoutMs = 90000 }) {
  const userDataDir = path.join(dataDir, 'user-data');
  const extensionsDir = path.join(dataDir, 'extensions');
  writeUserSettings(userDataDir, settings);
  fs.mkdirSync(extensionsDir, { recursive: true });
  const args = [
    entry,
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    workspace,
  ];
  const child = proc.start(process.execPath, args, {
    logFile,
    env: { ...process.env, ...env },
  });
  let exited = false;
  child.exited.then(() => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/healthz`, { timeoutMs, stillRunning: () => !exited });
  } catch (err) {
    await proc.killTree(child.pid);
    throw new Error(`code-server did not start: ${err.message}\n${child.output().trim().split('\n').slice(-20).join('\n')}`);
  }
  return { url, child, userDataDir, extensionsDir, stop: () => proc.killTree(child.pid) };
}

/**
 * Settings for a test instance's integrated terminal: bash without the machine's startup files.
 * A test's terminal must not depend on ~/.bashrc. Here that file runs `pyenv init`, which takes
 * a lock file in pyenv's shims folder. A terminal disposed while that runs leaves the lock
 * behind, and every later shell then waits 60 s for it: every program a test started in a
 * terminal after that never connected (a CI run failed so). `npm start` keeps the person's own
 * shell.
 */
const TEST_TERMINAL_SETTINGS = {
  'terminal.integrated.profiles.linux': {
    'bash (TaskScope tests)': { path: 'bash', args: ['--noprofile', '--norc'] },
  },
  'terminal.integrated.defaultProfile.linux': 'bash (TaskScope tests)',
};

/** User settings for a quiet, predictable workbench (no welcome page, no trust prompt, no tour). */
function writeUserSettings(userDataDir, extra = {}) {
  const settingsFile = path.join(userDataDir, 'User', 'settings.json');
  fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
  const settings = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'git.enabled': false,
    'workbench.colorTheme': 'Default Dark Modern',
    'window.commandCenter': false,
    'chat.commandCenter.enabled': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'python.terminal.activateEnvironment': false,
    ...extra,
  };
  fs.writeFileSync(settingsFile, JSON.stringify(settings, null, 2) + '\n');
}

/** Installs a .vsix into the extensions folder of a code-server data folder. */
async function installExtension(vsix, dataDir, logFile) {
  if (!fs.existsSync(vsix)) throw new Error(`no packaged extension at ${vsix} (npm run package writes it)`);
  fs.mkdirSync(path.join(dataDir, 'user-data', 'User'), { recursive: true });
  fs.mkdirSync(path.join(dataDir, 'extensions'), { recursive: true });
  const result = await proc.runOrThrow(
    process.execPath,
    [
      entry,
      '--user-data-dir', path.join(dataDir, 'user-data'),
      '--extensions-dir', path.join(dataDir, 'extensions'),
      '--install-extension', vsix,
      '--force',
    ],
    { logFile },
  );
  if (!/successfully installed/i.test(result.output)) {
    throw new Error(`code-server --install-extension did not report success:\n${result.output.trim()}`);
  }
}

module.exports = {
  VERSION, ensureCodeServer, startCodeServer, installExtension, writeUserSettings, DEB_PACKAGES, installDir, TEST_TERMINAL_SETTINGS,
};
