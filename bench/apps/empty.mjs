// An empty ESM preload: `--import` of it measures what the ESM loader alone costs at start-up,
// the control for `--import oomguard/register`.
export {};
