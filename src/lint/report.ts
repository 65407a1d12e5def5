/**
 * The command line's output formats: text for people, JSON for scripts, SARIF for code-scanning
 * services. Lines and columns are 1-based here (columns in UTF-16 code units, SARIF's default).
 */

import { type Finding, RULES, RULE_CODES, type Severity } from './rules';

/** One finding as the JSON format writes it. */
export interface JsonFinding {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  code: string;
  severity: Severity;
  message: string;
}

export interface FileFindings {
  readonly file: string;
  readonly findings: readonly Finding[];
}

export function toJson(files: readonly FileFindings[]): JsonFinding[] {
  return files.flatMap(({ file, findings }) =>
    findings.map((f) => ({
      file,
      line: f.line + 1,
      column: f.column + 1,
      endLine: f.endLine + 1,
      endColumn: f.endColumn + 1,
      code: f.code,
      severity: f.severity,
      message: f.message,
    })),
  );
}

export function formatText(files: readonly FileFindings[]): string {
  return toJson(files)
    .map((f) => `${f.file}:${f.line}:${f.column}: ${f.code} [${f.severity}] ${f.message}\n`)
    .join('');
}

const SARIF_LEVEL: Record<Severity, string> = { error: 'error', warning: 'warning', information: 'note', hint: 'note' };

export function formatSarif(files: readonly FileFindings[], version: string): object {
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'TaskScope',
            version,
            rules: RULE_CODES.map((code) => ({
              id: code,
              name: RULES[code].name,
              shortDescription: { text: RULES[code].title },
              fullDescription: { text: RULES[code].description },
              defaultConfiguration: { level: SARIF_LEVEL[RULES[code].defaultSeverity] },
            })),
          },
        },
        results: toJson(files).map((f) => ({
          ruleId: f.code,
          ruleIndex: RULE_CODES.indexOf(f.code as (typeof RULE_CODES)[number]),
          level: SARIF_LEVEL[f.severity],
          message: { text: f.message },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: f.file.split('\\').join('/') },
                region: { startLine: f.line, startColumn: f.column, endLine: f.endLine, endColumn: f.endColumn },
              },
            },
          ],
        })),
      },
    ],
  };
}
