import { describe, expect, it } from 'vitest';
import { mergeExpositions, withLabels, workerSocket } from '../../src/telemetry/cluster';

describe('cluster: merging the workers\' expositions into the primary\'s', () => {
  const own = ['# HELP a_bytes A.', '# TYPE a_bytes gauge', 'a_bytes{x="1"} 10', '# TYPE h histogram', 'h_bucket{le="1"} 1', 'h_sum 2', 'h_count 1', ''].join('\n');
  const worker = ['# HELP a_bytes A (worker).', '# TYPE a_bytes gauge', 'a_bytes{x="1"} 20', '# TYPE h histogram', 'h_bucket{le="1"} 3', 'h_sum 4', 'h_count 3', '# TYPE only_worker gauge', 'only_worker 7', 'target_info{process_pid="42"} 1'].join('\n');

  it("keeps one family per name, the first source's metadata, every source's samples, the worker's labelled", () => {
    expect(mergeExpositions([{ text: own }, { text: worker, labels: 'oomguard_worker_id="3",process_pid="42"' }]).split('\n')).toEqual([
      '# HELP a_bytes A.',
      '# TYPE a_bytes gauge',
      'a_bytes{x="1"} 10',
      'a_bytes{oomguard_worker_id="3",process_pid="42",x="1"} 20',
      '# TYPE h histogram',
      'h_bucket{le="1"} 1',
      'h_sum 2',
      'h_count 1',
      'h_bucket{oomguard_worker_id="3",process_pid="42",le="1"} 3',
      'h_sum{oomguard_worker_id="3",process_pid="42"} 4',
      'h_count{oomguard_worker_id="3",process_pid="42"} 3',
      '# TYPE only_worker gauge',
      'only_worker{oomguard_worker_id="3",process_pid="42"} 7',
      // A label the sample has already (target_info's process_pid) is not added twice.
      'target_info{oomguard_worker_id="3",process_pid="42"} 1',
      '',
    ]);
  });

  it('adds labels to samples with, without and with empty braces', () => {
    expect(withLabels('m 1', 'a="x"')).toBe('m{a="x"} 1');
    expect(withLabels('m{} 1', 'a="x"')).toBe('m{a="x"} 1');
    expect(withLabels('m{b="y"} 1 1700000000', 'a="x"')).toBe('m{a="x",b="y"} 1 1700000000');
    expect(withLabels('m{a="z"} 1', 'a="x"')).toBe('m{a="z"} 1');
  });

  it('names a worker\'s socket after its pid: abstract on Linux, a pipe on Windows, a file elsewhere', () => {
    expect(workerSocket(42, 'linux')).toBe('\0oomguard-metrics-42');
    expect(workerSocket(42, 'win32')).toBe('\\\\.\\pipe\\oomguard-metrics-42');
    expect(workerSocket(42, 'darwin')).toMatch(/oomguard-metrics-42\.sock$/);
  });
});
