import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatHtml } from './report.js';
import type { MatrixRun } from './runner.js';

/** Writes `<dir>/<name>.json` and `<dir>/<name>.html`; returns both paths. */
export async function writeResults(run: MatrixRun, dir: string, name: string): Promise<[string, string]> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, `${name}.json`);
  const html = join(dir, `${name}.html`);
  await writeFile(json, JSON.stringify(run, null, 2) + '\n');
  await writeFile(html, formatHtml(run));
  return [json, html];
}
