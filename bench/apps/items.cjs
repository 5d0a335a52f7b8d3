// The JSON service's data, in a module of its own, as any app has more than one file (the first
// require of a file from another one touches code of node itself; a one-file baseline would
// charge that to whatever the preload requires).
'use strict';
module.exports = Array.from({ length: 20 }, (_, i) => ({ id: i, name: `item-${i}`, price: i * 1.5, tags: ['a', 'b'] }));
