/**
 * The matrix as people read it: one table per (transport, variant), rows = connect side preset,
 * columns = listen side preset (and same NAT); as text, JSON, and a self-contained HTML page.
 */
import { MATRIX_PRESETS, SAME_NAT, variantByKey } from './plan.js';
import type { PairResult } from './run-pair.js';
import type { MatrixRun } from './runner.js';

const SHORT_METHODS: Record<string, string> = {
  'tcp-simultaneous-open': 'simopen',
  'tcp-stunt2': 'stunt2',
  'tcp-predict': 'predict',
  'tcp-direct': 'direct',
  'tcp-reversal': 'reversal',
  'udp-punch': 'punch',
  'udp-predict': 'predict',
  'udp-birthday': 'birthday',
};

/** A cell's text: `method ms` when connected, the error code otherwise; `!` marks the unexpected. */
export function cellText(result: PairResult): string {
  const mark = result.asExpected ? '' : '!';
  if (result.connected && result.dataOk !== false && result.code === undefined) {
    return `${mark}${SHORT_METHODS[result.method ?? ''] ?? result.method} ${result.elapsedMs ?? '?'}`;
  }
  if (result.connected) return `${mark}${result.code ?? 'DATA'}`;
  return `${mark}${(result.code ?? 'ERR_?').replace(/^ERR_/, '')}`;
}

interface Table {
  title: string;
  columns: string[];
  rows: Array<{ preset: string; cells: Array<PairResult | undefined> }>;
}

function tables(run: MatrixRun): Table[] {
  const groups = new Map<string, PairResult[]>();
  for (const result of run.results) {
    const key = `${result.pair.transport}|${result.pair.variant}`;
    groups.set(key, [...(groups.get(key) ?? []), result]);
  }
  return [...groups].map(([key, results]) => {
    const [transport, variant] = key.split('|') as [string, string];
    const used = (name: string) => results.some((r) => r.pair.connect === name || r.pair.listen === name);
    const presets = MATRIX_PRESETS.map((p) => p.key).filter(used);
    const columns = [...presets, ...(results.some((r) => r.pair.sameNat) ? [SAME_NAT] : [])];
    const rows = presets.map((preset) => ({
      preset,
      cells: columns.map((column) => results.find((r) => r.pair.connect === preset && r.pair.listen === column)),
    }));
    return { title: `${transport.toUpperCase()} ${variant}: ${variantByKey(variant).describe}`, columns, rows };
  });
}

export function summary(run: MatrixRun): string {
  const failed = run.results.filter((r) => !r.asExpected);
  const count = (expect: string) => run.results.filter((r) => r.pair.expect === expect).length;
  const alone = run.results.filter((r) => r.pair.runsAlone).map((r) => r.pair.id);
  return `${run.results.length} pairs, ${run.results.length - failed.length} as expected (${count('direct')} direct, ` +
    `${count('birthday')} birthday, ${count('none')} without a direct path), relay ${run.relay}, ${run.concurrency} at once` +
    `${alone.length > 0 ? ` (${alone.join(', ')} alone)` : ''}, ` +
    `${(run.wallMs / 1000).toFixed(1)} s (lab built in ${(run.labBuildMs / 1000).toFixed(1)} s)`;
}

const CELL_WIDTH = 21;

const EXPECTED: Record<string, string> = {
  direct: 'a direct connection',
  birthday: 'a birthday connection or a typed failure',
  none: 'a typed failure (no direct path)',
};

/** Text tables; a legend; the unexpected pairs with their error messages. */
export function formatText(run: MatrixRun): string {
  const lines: string[] = [];
  for (const table of tables(run)) {
    lines.push(`${table.title}   (row: connect side, column: listen side; method + ms from connect(), or error code; ! = not as expected)`);
    lines.push(['connect \\ listen', ...table.columns].map((text) => text.padEnd(CELL_WIDTH)).join(''));
    for (const row of table.rows) {
      lines.push([row.preset, ...row.cells.map((cell) => (cell ? cellText(cell) : ''))].map((text) => text.padEnd(CELL_WIDTH)).join(''));
    }
    lines.push('');
  }
  for (const result of run.results.filter((r) => !r.asExpected)) {
    lines.push(`! ${result.pair.id} (${result.hosts.join(' -> ')}): expected ${EXPECTED[result.pair.expect]}; ` +
      `got ${result.connected ? `${result.method}` : result.code}: ${result.message ?? ''} ${result.dataNote ?? ''}`.trim());
  }
  lines.push(summary(run));
  return lines.join('\n');
}

const escapeHtml = (text: string): string => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A self-contained page: one table per transport and variant, details in each cell's tooltip. */
export function formatHtml(run: MatrixRun): string {
  const body = tables(run).map((table) => {
    const head = `<tr><th>connect \\ listen</th>${table.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>`;
    const rows = table.rows.map((row) => `<tr><th>${escapeHtml(row.preset)}</th>${row.cells.map((cell) => {
      if (!cell) return '<td></td>';
      const kind = !cell.asExpected ? 'bad' : cell.connected ? 'ok' : 'none';
      const title = [`hosts ${cell.hosts.join(' -> ')}`, cell.dataNote, cell.message, cell.listenMethod && `listen side: ${cell.listenMethod}`]
        .filter(Boolean).join('\n');
      return `<td class="${kind}" title="${escapeHtml(title)}">${escapeHtml(cellText(cell))}</td>`;
    }).join('')}</tr>`).join('\n');
    return `<h2>${escapeHtml(table.title)}</h2>\n<table>${head}\n${rows}</table>`;
  }).join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>ntcp NAT-pair matrix</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #bbb; padding: 4px 8px; font-size: 13px; text-align: left; }
td.ok { background: #d8f5d0; } td.none { background: #eee; color: #555; } td.bad { background: #f9c9c4; font-weight: bold; }
</style></head><body>
<h1>ntcp NAT-pair matrix</h1>
<p>${escapeHtml(summary(run))}. Started ${escapeHtml(run.startedAt)}. Rows: connect side; columns: listen side.
Cells: method and ms from <code>connect()</code> to the verified connection, or the error code
(grey: no direct path, failure expected; red: not as expected). Hover a cell for details.</p>
${body}
</body></html>
`;
}
