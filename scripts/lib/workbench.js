// Driving the VS Code workbench (code-server in Chromium) the way a person does: the activity
// bar, Quick Open, the command palette, tree rows, tabs and the status bar. Selectors are those
// of VS Code 1.100's DOM.
'use strict';

/** Waits until the workbench has rendered its activity bar and status bar. */
async function waitForWorkbench(page, timeoutMs = 90000) {
  await page.locator('.monaco-workbench .activitybar').waitFor({ timeout: timeoutMs });
  await page.locator('.monaco-workbench .statusbar').waitFor({ timeout: timeoutMs });
}

/** The activity bar button of a view container, by its title. */
function activityBarItem(page, title) {
  return page.locator(`.activitybar a.action-label[aria-label^="${title}"]`);
}

/** Presses a key chord on the workbench (focus on the workbench first). */
async function press(page, keys) {
  await page.keyboard.press(keys);
}

/** The quick input widget (command palette, Quick Open). */
function quickInput(page) {
  return page.locator('.quick-input-widget');
}

/**
 * Opens the command palette, types `title` ("Category: Title"), waits for that exact entry
 * and runs it. Throws when the palette does not offer it.
 */
async function runCommand(page, title, timeoutMs = 15000) {
  await press(page, 'F1');
  const widget = quickInput(page);
  await widget.waitFor({ state: 'visible', timeout: timeoutMs });
  const box = widget.locator('input');
  await box.fill(`>${title}`);
  const entry = widget.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  try {
    await entry.waitFor({ state: 'visible', timeout: timeoutMs });
  } catch {
    const offered = await widget.locator('.quick-input-list .monaco-list-row').allInnerTexts().catch(() => []);
    await press(page, 'Escape');
    throw new Error(`the command palette does not offer "${title}" (it offers: ${offered.join(' | ') || 'nothing'})`);
  }
  await entry.click();
  await widget.waitFor({ state: 'hidden', timeout: timeoutMs });
}

/** Opens a workspace file by name with Quick Open (Ctrl+P). */
async function quickOpen(page, fileName, timeoutMs = 15000) {
  await press(page, 'Control+P');
  const widget = quickInput(page);
  await widget.waitFor({ state: 'visible', timeout: timeoutMs });
  await widget.locator('input').fill(fileName);
  const entry = widget.locator('.quick-input-list .monaco-list-row', { hasText: fileName }).first();
  await entry.waitFor({ state: 'visible', timeout: timeoutMs });
  await press(page, 'Enter');
  await widget.waitFor({ state: 'hidden', timeout: timeoutMs });
  await page.locator('.tabs-container .tab.active', { hasText: fileName }).waitFor({ timeout: timeoutMs });
}

/** The label of the active editor tab ('' when none). */
async function activeTabLabel(page) {
  const tab = page.locator('.editor-group-container.active .tabs-container .tab.active .label-name').first();
  return (await tab.count()) ? (await tab.innerText()).trim() : '';
}

/** The cursor position shown in the status bar ("Ln 12, Col 5"), as {line, column}, or null. */
async function cursorPosition(page) {
  const item = page.locator('.statusbar [id="status.editor.selection"]').first();
  if (!(await item.count())) return null;
  const text = (await item.innerText()).trim();
  const m = text.match(/Ln (\d+), Col (\d+)/);
  return m ? { line: Number(m[1]), column: Number(m[2]), text } : null;
}

/** The pane of a view, found by its title in the side bar ("Tasks"). */
function viewPane(page, viewTitle) {
  return page.locator('.sidebar .pane', { has: page.locator(`.pane-header[aria-label^="${viewTitle}"]`) });
}

/** The texts of the notification toasts on screen. */
async function notifications(page) {
  return page.locator('.notifications-toasts .notification-toast .notification-list-item-message').allInnerTexts().catch(() => []);
}

module.exports = { notifications, waitForWorkbench, activityBarItem, runCommand, quickOpen, activeTabLabel, cursorPosition, viewPane, quickInput, press };
