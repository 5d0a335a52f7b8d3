import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeMatrix } from '../helpers/node-matrix';

/** Runs test/fixtures/heap/sentinel.js with --trace-gc and collects both. */
async function runSentinel(node: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(node, ['--max-old-space-size=512', '--trace-gc', join(__dirname, '..', 'fixtures', 'heap', 'sentinel.js')], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    timeout: 60_000,
    killSignal: 'SIGKILL',
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

describe.each(nodeMatrix())('Node $major: the major-GC sentinel', ({ path }) => {
  it('reports every mark-compact and never a scavenge, through hundreds of scavenges and several major GCs', async () => {
    const r = await runSentinel(path);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    const scavenges = lines.filter((l) => / Scavenge /.test(l)).length;
    const majors = lines.filter((l) => /Mark-Compact/.test(l)).length;
    const told = lines.filter((l) => l.startsWith('OOMG ')).map((l) => JSON.parse(l.slice(5)) as { type: string; armed?: boolean; majors?: number });
    // After the scavenging phase it is armed (on Node 26, only after two GCs promoted it) and has reported nothing.
    expect(told.find((t) => t.type === 'phase')).toEqual({ type: 'phase', armed: true, majors: 0 });
    expect(scavenges).toBeGreaterThanOrEqual(100);
    expect(majors).toBeGreaterThanOrEqual(4);
    // One report per mark-compact, none per scavenge.
    expect(told.find((t) => t.type === 'end')?.majors, `${scavenges} scavenges, ${majors} mark-compacts`).toBe(majors);
    expect(told.filter((t) => t.type === 'major')).toHaveLength(majors);
  });
});
