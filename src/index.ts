/**
 * oomguard: shut a Node.js service down cleanly (hooks, flush, exit code 2) before V8's heap
 * abort or the kernel OOM killer, and export what the guard sees through OpenTelemetry.
 *
 * Re-exports only; importing this module starts nothing (the preload `oomguard/register` does).
 */
export { start, stop, onShutdown, onPressure, publishMetrics, reading, status } from './api';
export type { GuardHandle, Status } from './api';
export type { HeapBudget } from './heap';
export type { MemoryLimit } from './sampler';
export type { PressureListener } from './events';
export type { HookOptions, ShutdownHook } from './shutdown';
export type { ShutdownEvidence } from './evidence/report';
export type { AllocationSite } from './evidence/summary';
export type { MemoryGrowth, MemoryKind } from './evidence/growth';
export { OomguardConfigError } from './config';
export type { StartOptions, ConfigIssue } from './config';
export type {
  Config,
  Grounds,
  GcSummary,
  GuardState,
  HeapSampling,
  LivePoint,
  Level,
  NativeMode,
  MetricsMode,
  PressureEvent,
  Reading,
  ResolvedThresholds,
  Reason,
  ShutdownAction,
  Signal,
  Snapshot,
  ThresholdSpec,
} from './types';
