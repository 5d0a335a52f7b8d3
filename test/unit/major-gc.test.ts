import { describe, expect, it } from 'vitest';
import { MajorGcSentinel, minorGcClearsWeakTargets } from '../../src/major-gc';

describe('MajorGcSentinel', () => {
  it('promotes its first sentinel first only where minor GCs clear young weak targets (V8 14, Node 26)', () => {
    expect(minorGcClearsWeakTargets('12.4.254.21-node.33')).toBe(false);
    expect(minorGcClearsWeakTargets('13.6.233.17-node.37')).toBe(false);
    expect(minorGcClearsWeakTargets('14.6.202.33-node.23')).toBe(true);
    expect(minorGcClearsWeakTargets('garbage')).toBe(false);
  });

  it('is armed at once where a young sentinel is safe, waits for promotion where it is not, and disarms on stop', () => {
    const old = new MajorGcSentinel({ onMajor: () => {}, v8Version: '13.6' });
    old.start();
    expect(old.armed).toBe(true);
    old.stop();
    expect(old.armed).toBe(false);
    const v14 = new MajorGcSentinel({ onMajor: () => {}, v8Version: '14.6' });
    v14.start();
    expect(v14.armed).toBe(false);
    v14.stop();
    expect(v14.count).toBe(0);
  });
});
