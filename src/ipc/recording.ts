/**
 * Opens a recording made with `python -m taskscope run --record FILE`: the same lines the
 * agent would have sent, read through the same validation into the model, so a recorded
 * run is browsed like a live process (shown as exited). Pure: no `vscode` import.
 */

import { FindingStore, withTaskEvidence } from '../model/findings';
import type { TaskModel } from '../model/taskModel';
import { parseAgentMessage } from '../protocol/messages';
import { mapMessagePaths, PathMapper } from '../protocol/pathMappings';
import type { Logger } from './agentServer';

export interface RecordingSummary {
  readonly processKey: string | undefined;
  readonly messages: number;
  readonly invalid: number;
  readonly findings: number;
  /** Set when the file ends without `bye`: the program stopped mid-stream. */
  readonly truncated: boolean;
}

export function loadRecording(
  text: string,
  name: string,
  model: TaskModel,
  findings: FindingStore,
  logger: Logger,
  pathMapper?: PathMapper,
): RecordingSummary {
  let processKey: string | undefined;
  let messages = 0;
  let invalid = 0;
  let events = 0;
  let exitCode: number | null | undefined;
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (!line) return;
    const parsed = parseAgentMessage(line);
    if (!parsed.ok) {
      if (invalid++ === 0) logger.warn(`${name}:${index + 1}: skipped an invalid line: ${parsed.error}`);
      return;
    }
    messages++;
    const message = pathMapper ? mapMessagePaths(parsed.message, pathMapper) : parsed.message;
    if (message.type === 'hello') {
      if (processKey === undefined) processKey = model.addProcess({ ...message, title: `${message.title ?? titleOf(message.argv)} (recording)` }).key;
      return;
    }
    if (processKey === undefined) {
      if (invalid++ === 0) logger.warn(`${name}:${index + 1}: '${message.type}' before 'hello' skipped`);
      return;
    }
    switch (message.type) {
      case 'snapshot':
        model.applySnapshot(processKey, message);
        break;
      case 'delta':
        model.applyDelta(processKey, message);
        break;
      case 'event':
        findings.add(processKey, withTaskEvidence(message, message.task ? model.task(processKey, message.task) : undefined));
        events++;
        break;
      case 'bye':
        exitCode = message.exitCode;
        break;
      case 'result':
        break;
    }
  });
  if (invalid > 1) logger.warn(`${name}: ${invalid} invalid lines skipped in all`);
  if (processKey !== undefined) model.markExited(processKey, exitCode ?? null);
  return { processKey, messages, invalid, findings: events, truncated: exitCode === undefined };
}

function titleOf(argv: readonly string[]): string {
  const script = argv[0] === '-m' ? argv[1] : argv[0];
  return script?.split(/[\\/]/).pop() || 'python';
}
