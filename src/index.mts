// ESM entry: the same CommonJS build, so `import` and `require` share one agent.
export { start, stop, onShutdown, onPressure, publishMetrics, reading, status, OomguardConfigError } from './index.js';
export type * from './index.js';
