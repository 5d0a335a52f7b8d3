import { describe, expect, it } from 'vitest';
import { agentLog, type DiagLevel, type LogLevel } from '../../src/log';

function written(level: LogLevel): string[] {
  const out: string[] = [];
  const log = agentLog(level, (line) => out.push(line));
  log('for the user');
  for (const diag of ['error', 'warn', 'info', 'debug'] as DiagLevel[]) log(`diag ${diag}`, diag);
  return out;
}

describe('agentLog', () => {
  it.each<[LogLevel, string[]]>([
    ['none', []],
    ['error', ['diag error']],
    ['warn', ['diag error', 'diag warn']],
    ['info', ['diag error', 'diag warn', 'diag info']],
    ['debug', ['diag error', 'diag warn', 'diag info', 'diag debug']],
    ['verbose', ['diag error', 'diag warn', 'diag info', 'diag debug']],
    ['all', ['diag error', 'diag warn', 'diag info', 'diag debug']],
  ])('at %s writes the lines for the user and the diagnostics %j', (level, diags) => {
    expect(written(level)).toEqual(['for the user', ...diags]);
  });

  it('redacts credentials in every line, a library error quoting an endpoint included', () => {
    const out: string[] = [];
    agentLog('all', (line) => out.push(line))('oomguard: export to https://svc:hunter2@collector:4318/v1/traces failed', 'warn');
    expect(out).toEqual(['oomguard: export to https://<redacted>@collector:4318/v1/traces failed']);
  });
});
