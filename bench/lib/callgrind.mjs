// Instruction counts of a whole child process under `valgrind --tool=callgrind`: on a shared,
// noisy machine they repeat to a fraction of a percent where wall times move by tens of percent.
// Only user-space instructions count (not the kernel's time, not waiting), so they complement,
// never replace, the wall-clock figures. V8 initialises its heap snapshot with a random hash
// seed whose rehashing varies by 10+ M instructions from run to run; that part
// (`v8::internal::Snapshot::Initialize`, before any JavaScript runs) is left out of the count.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './util.mjs';

/**
 * Instructions (user space, all threads) of `node ...args` with `env`, less V8's snapshot set-up.
 * Time runs ~50x slower under callgrind: anything timed (a 5 s telemetry delay, a 1 s poll)
 * comes 50x sooner in instructions, so callers pin such settings.
 */
export async function instructions(node, args, env) {
  return (await instructionCount(node, args, env)).net;
}

/** `{ net, raw }`: less V8's snapshot set-up, and the whole count. */
export async function instructionCount(node, args, env) {
  const dir = mkdtempSync(join(tmpdir(), 'oomguard-cg-'));
  try {
    const out = join(dir, 'callgrind.out');
    const r = await run('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, '--smc-check=all-non-file', node, ...args], { env, timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`callgrind ${args.join(' ')}: code=${r.code} signal=${r.signal}\n${r.stderr.slice(-2000)}`);
    const a = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', out], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
    let total;
    let snapshot = 0;
    for (const line of a.stdout.split('\n')) {
      const m = /^\s*([\d,]+)\s/.exec(line);
      if (!m) continue;
      const n = Number(m[1].replaceAll(',', ''));
      if (line.includes('PROGRAM TOTALS')) total = n;
      else if (line.includes('v8::internal::Snapshot::Initialize(')) snapshot = Math.max(snapshot, n);
    }
    if (total === undefined) throw new Error(`callgrind_annotate gave no total:\n${a.stderr}`);
    return { net: total - snapshot, raw: total };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
