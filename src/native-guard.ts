/**
 * The native part as the agent uses it: V8's near-heap-limit callback starts the shutdown, and
 * mark-compacts reported by V8's own GC callbacks feed the GC tracker (heap signal, next-GC
 * estimate, GC-thrash rule), so the `gc` PerformanceObserver, and its cost for every scavenge,
 * is needed only in the JavaScript mode. Inactive (and harmless) when the addon is not there.
 */
import { LIVE_READ_MAX_DELAY_MS, type GcTracker } from './gc';
import { generationSizes } from './heap';
import { installNearHeapLimit, loadNative, onMajorGc, type NativeStatus, type NearLimitInfo } from './native';
import { pressureOf, resolveThresholds, type PolicyConfig } from './policy';
import type { Config, PressureEvent, Reading } from './types';

export interface NativeGuardOptions {
  /** `native` (auto | on | off), `nativeReserveBytes`, and the exit code the native part exits with itself. */
  config: Pick<Config, 'native' | 'nativeReserveBytes' | 'exitCode'>;
  /** The container's memory limit, when known: the reserve never goes past what it leaves. */
  memoryLimit: number | undefined;
  /** Fed with every mark-compact. */
  gc: Pick<GcTracker, 'record' | 'recordMajor'>;
  /** Called after each mark-compact was recorded (the guard checks at once). */
  onMajor: () => void;
  /** The shutdown path; see `NearLimitOptions.onNearLimit`. */
  onNearLimit: (info: NearLimitInfo) => void;
  log: (line: string) => void;
  /** Where the addon is looked for (tests); the package root by default. */
  root?: string;
}

export class NativeGuard {
  readonly status: NativeStatus;
  #removeNear: (() => void) | undefined;
  #removeGc: (() => void) | undefined;
  #setLimit: ((bytes: number) => void) | undefined;
  #memoryLimit: number;

  private constructor(status: NativeStatus) {
    this.status = status;
    this.#memoryLimit = 0;
  }

  /** Loads and installs the native part, or explains why not; never throws. */
  static start(options: NativeGuardOptions): NativeGuard {
    const { config } = options;
    const { binding, ...status } = loadNative(config.native, options.root);
    const guard = new NativeGuard(status);
    if (!binding) {
      if (config.native === 'on') options.log(`oomguard: OOMGUARD_NATIVE=on but the native part is not active: ${status.reason}`);
      return guard;
    }
    try {
      guard.#memoryLimit = options.memoryLimit ?? 0;
      guard.#removeNear = installNearHeapLimit(binding, {
        reserveBytes: config.nativeReserveBytes,
        memoryLimit: guard.#memoryLimit,
        exitCode: config.exitCode,
        onNearLimit: options.onNearLimit,
        log: options.log,
      });
      guard.#setLimit = (bytes) => binding.setMemoryLimit(bytes);
      guard.#removeGc = onMajorGc(binding, (gc) => {
        options.gc.record({ end: gc.end, duration: gc.duration, major: true });
        // Read at the GC, but heard of late means the GC ran in the middle of one of the app's
        // tasks, whose temporaries it counted as alive: an upper bound, confirmed before acting.
        options.gc.recordMajor(generationSizes(gc.spaces), gc.end, true, Date.now() - gc.end <= LIVE_READ_MAX_DELAY_MS);
        options.onMajor();
      });
    } catch (err) {
      guard.stop();
      const reason = `the addon refused: ${err instanceof Error ? err.message : String(err)}`;
      options.log(`oomguard: native part not active (${reason}); the guard runs in its JavaScript mode`);
      return new NativeGuard({ active: false, mode: status.mode, reason });
    }
    return guard;
  }

  /** True while mark-compacts come from V8's GC callbacks (no PerformanceObserver needed). */
  get observesGc(): boolean {
    return this.#removeGc !== undefined;
  }

  /** Keeps the reserve's ceiling in step with the container's limit (cheap; call per reading). */
  setMemoryLimit(bytes: number | undefined): void {
    const next = bytes ?? 0;
    if (next === this.#memoryLimit || !this.#setLimit) return;
    this.#memoryLimit = next;
    this.#setLimit(next);
  }

  /** Removes every callback the native part installed. */
  stop(): void {
    this.#removeNear?.();
    this.#removeGc?.();
    this.#removeNear = undefined;
    this.#removeGc = undefined;
    this.#setLimit = undefined;
  }
}

/**
 * The shutdown event for V8's near-heap-limit callback: signal `heap`, reason `heap-limit`, the
 * limit V8 reached as both value and threshold, on a reading taken after it fired (its
 * thresholds and pressure as the policy would resolve them; the policy's state is not touched).
 */
export function nearLimitEvent(info: NearLimitInfo, reading: Reading, config: PolicyConfig): PressureEvent {
  const thresholds = resolveThresholds(reading, config);
  const pressure = pressureOf(reading, thresholds);
  return {
    level: 'shutdown',
    signal: 'heap',
    reason: 'heap-limit',
    value: info.heapLimit,
    threshold: info.heapLimit,
    pressure,
    reading,
    thresholds,
  };
}
