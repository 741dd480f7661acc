// Copies the dashboard's third-party assets out of node_modules into the gateway's Dashboard/vendor folder,
// each with its licence. Run through `make dashboard` (npm ci first, so the versions are the lock file's).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const vendor = join(here, '..', 'services', 'Telemetry.Gateway', 'Dashboard', 'vendor');
mkdirSync(vendor, { recursive: true });

const uplot = join(here, 'node_modules', 'uplot');
const { version } = JSON.parse(readFileSync(join(uplot, 'package.json'), 'utf8'));
// The minified IIFE build (51 kB, global uPlot): the package ships no minified ES module.
copyFileSync(join(uplot, 'dist', 'uPlot.iife.min.js'), join(vendor, 'uPlot.iife.min.js'));
copyFileSync(join(uplot, 'dist', 'uPlot.min.css'), join(vendor, 'uPlot.min.css'));
copyFileSync(join(uplot, 'LICENSE'), join(vendor, 'uPlot.LICENSE.txt'));
writeFileSync(join(vendor, 'VERSIONS'), `uplot ${version}\n`);
console.log(`vendor: uplot ${version} -> ${vendor}`);
