// A short command-line tool, as NODE_OPTIONS meets them in a container: it reads a file
// asynchronously (so its event loop turns), prints one line and ends.
'use strict';
const { readFile } = require('node:fs/promises');
const { join } = require('node:path');

readFile(join(__dirname, '..', '..', 'package.json'), 'utf8').then((text) => console.log(JSON.parse(text).name));
