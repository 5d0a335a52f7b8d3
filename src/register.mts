// `node --import oomguard/register app.mjs`: the same preload as `--require`.
import './register.js';
