// The widget against a plain fetch loop, in one headless Chromium run:
// the same file (SATCHEL_BENCH_MB, default 200 MB) is uploaded through
// the embedded widget and by a bare loop that POSTs the same parts
// (Blob slices, no hashing, no retries), in alternating rounds. Prints
// MB/s of each, their ratio (goal: at least 0.7), the widget's wasm
// memory after the upload, and the release bundle's size raw and gzipped
// (goal: at most 300 KB gzipped).
//
// Run through scripts/bench-widget.sh, which builds the release first.
import { chromium } from '@playwright/test';
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, writeSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const root = path.resolve(import.meta.dirname, '..', '..');
const binary = path.join(root, 'target', 'release', 'satchel');
const megabytes = Number(process.env.SATCHEL_BENCH_MB ?? 200);
const rounds = Number(process.env.SATCHEL_BENCH_ROUNDS ?? 3);
const port = Number(process.env.SATCHEL_BENCH_PORT ?? 3200);
const base = `http://127.0.0.1:${port}`;

const work = mkdtempSync(path.join(process.env.SATCHEL_BENCH_DIR ?? tmpdir(), 'satchel-widget-bench-'));
const dataDir = path.join(work, 'data');
const file = path.join(work, 'bench.bin');
{
  const fd = openSync(file, 'w');
  for (let i = 0; i < megabytes; i++) writeSync(fd, randomBytes(1_000_000));
  closeSync(fd);
}

const server = spawn(binary, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir,
  '--database-url', `sqlite://${dataDir}/satchel.db`], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, RUST_LOG: 'warn' } });
const stop = () => { server.kill('SIGTERM'); rmSync(work, { recursive: true, force: true }); };
try {
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch {}
    if (i > 100) throw new Error('satchel did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const token = execFileSync(binary, ['token', 'create', '--scopes', 'files', '--data-dir', dataDir,
    '--database-url', `sqlite://${dataDir}/satchel.db`], { encoding: 'utf8', env: { ...process.env, RUST_LOG: 'warn' } }).trim();

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  await page.goto(`${base}/embed-demo?concurrency=1`);
  await page.waitForSelector('body[data-widget=ready]');
  await page.evaluate(() => {
    const input = document.createElement('input');
    input.type = 'file';
    input.id = 'plain';
    document.body.append(input);
  });
  await page.locator('#plain').setInputFiles(file);

  const plain = async () => page.evaluate(async (token) => {
    const picked = document.getElementById('plain').files[0];
    const started = performance.now();
    const opened = await fetch('/v1.0/sessions', {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ file_name: picked.name, file_size: picked.size }),
    }).then((r) => r.json());
    let url = opened.upload_url;
    for (let start = 0; start < picked.size || start === 0; start += opened.max_part_size) {
      const answer = await fetch(url, { method: 'POST', body: picked.slice(start, start + opened.max_part_size) });
      if (answer.status === 200) break;
      if (answer.status !== 202) throw new Error(`part answered ${answer.status}`);
      url = (await answer.json()).next_url;
    }
    return performance.now() - started;
  }, token);

  const widget = async (round) => {
    const before = await page.evaluate(() => window.satchelEvents.filter((e) => e.type === 'satchel:upload-complete').length);
    // A fresh copy each round, so the widget does not resume a finished upload.
    const copy = path.join(work, `widget-${round}.bin`);
    execFileSync('cp', [file, copy]);
    const started = Date.now();
    await page.locator('#uploader input[type=file]').setInputFiles(copy);
    await page.waitForFunction((n) => window.satchelEvents.filter((e) => e.type === 'satchel:upload-complete').length > n,
      before, { timeout: 0, polling: 50 });
    const ms = Date.now() - started;
    rmSync(copy);
    return ms;
  };

  const mbps = (ms) => megabytes / (ms / 1000);
  const results = { plain: [], widget: [] };
  console.log(`widget benchmark: ${megabytes} MB, ${rounds} rounds, 512 KiB parts, loopback`);
  for (let r = 1; r <= rounds; r++) {
    const p = mbps(await plain());
    const w = mbps(await widget(r));
    results.plain.push(p);
    results.widget.push(w);
    console.log(`round ${r}: fetch loop ${p.toFixed(1)} MB/s, widget ${w.toFixed(1)} MB/s, ratio ${(w / p).toFixed(2)}`);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const [mp, mw] = [median(results.plain), median(results.widget)];
  console.log(`median: fetch loop ${mp.toFixed(1)} MB/s, widget ${mw.toFixed(1)} MB/s, ratio ${(mw / mp).toFixed(2)} (goal >= 0.7)`);
  const wasmBytes = await page.evaluate(() => window.satchelWasmBytes());
  console.log(`widget wasm memory after ${rounds} uploads: ${(wasmBytes / 1048576).toFixed(1)} MiB`);
  await browser.close();

  const pkg = path.join(root, 'target', 'site', 'pkg');
  const sizes = ['satchel.wasm', 'satchel.js'].map((name) => {
    const bytes = readFileSync(path.join(pkg, name));
    return { name, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  });
  for (const s of sizes) console.log(`${s.name}: ${(s.raw / 1000).toFixed(1)} KB raw, ${(s.gzip / 1000).toFixed(1)} KB gzip`);
  const total = sizes.reduce((a, s) => ({ raw: a.raw + s.raw, gzip: a.gzip + s.gzip }), { raw: 0, gzip: 0 });
  console.log(`bundle: ${(total.raw / 1000).toFixed(1)} KB raw, ${(total.gzip / 1000).toFixed(1)} KB gzip (goal <= 300 KB gzip)`);
} finally {
  stop();
}
