// Preloaded first in figure 4: notes when preloading starts, so the app's first line can tell
// how long the preloads after it took, free of the noise in node's own start-up.
'use strict';
globalThis.__oomguardBenchPreloadStart = performance.now();
