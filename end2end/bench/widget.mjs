// The widget against one streamed request, in one headless Chromium run,
// on three links: Chromium's network emulation (CDP) at 40 ms latency and
// 200 Mbit/s, at 150 ms and 50 Mbit/s, and plain loopback. Each round
// uploads the same file (SATCHEL_BENCH_MB, default 64 MiB) through the
// embedded widget, then sends the same bytes as one `fetch` to a local
// sink that only counts them, under the same emulation. Prints MB/s of
// each, their ratio per round and the medians (goals: at least 0.85 on
// the emulated links, 0.7 on loopback), the widget's wasm memory after
// the uploads, and the release bundle's size (goal: at most 300 KB gzip).
// Each round also uploads the same file through Uppy (the `uppy` bundle:
// @uppy/core with @uppy/tus, one PATCH) to Satchel's tus face on the
// same link, and prints widget / Uppy (goal: at least 1).
//
// Run through scripts/bench-widget.sh, which builds the release first.
// SATCHEL_BENCH_LINKS picks links (default `40ms,150ms,loopback`);
// SATCHEL_BENCH_SERVER_ARGS adds `satchel serve` flags.
import { chromium } from '@playwright/test';
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, writeSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const root = path.resolve(import.meta.dirname, '..', '..');
const binary = path.join(root, 'target', 'release', 'satchel');
const mebibytes = Number(process.env.SATCHEL_BENCH_MB ?? 64);
const megabytes = mebibytes * 1.048576;
const links = (process.env.SATCHEL_BENCH_LINKS ?? '40ms,150ms,loopback').split(',');
const rounds = Number(process.env.SATCHEL_BENCH_ROUNDS ?? 3);
const port = Number(process.env.SATCHEL_BENCH_PORT ?? 3200);
const base = `http://127.0.0.1:${port}`;
// More `satchel serve` flags, space-separated (e.g. `--max-part-size 8388608`).
const serverArgs = (process.env.SATCHEL_BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean);

const work = mkdtempSync(path.join(process.env.SATCHEL_BENCH_DIR ?? tmpdir(), 'satchel-widget-bench-'));
const dataDir = path.join(work, 'data');
const file = path.join(work, 'bench.bin');
{
  const fd = openSync(file, 'w');
  for (let i = 0; i < mebibytes; i++) writeSync(fd, randomBytes(1_048_576));
  closeSync(fd);
}

const server = spawn(binary, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir,
  '--database-url', `sqlite://${dataDir}/satchel.db`, ...serverArgs], { cwd: root, stdio: ['ignore', process.env.SATCHEL_BENCH_LOG ? 'inherit' : 'ignore', 'inherit'],
  env: { ...process.env, RUST_LOG: process.env.SATCHEL_BENCH_LOG ?? 'warn' } });
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
  await page.addScriptTag({ path: path.join(root, 'end2end', 'node_modules', 'uppy', 'dist', 'uppy.min.js') });

  // Uppy: a fresh instance per upload, the picked file, one PATCH.
  const uppy = async () => page.evaluate(async (token) => {
    const { Uppy, Tus } = window.Uppy;
    const picked = document.getElementById('plain').files[0];
    const instance = new Uppy({ autoProceed: false })
      .use(Tus, { endpoint: '/tus', headers: { Authorization: `Bearer ${token}` }, retryDelays: null,
        // Each round is a new upload, not a resume of the last one.
        storeFingerprintForResuming: false });
    instance.addFile({ name: picked.name, type: picked.type, data: picked });
    const started = performance.now();
    const result = await instance.upload();
    if (result.failed.length > 0) throw new Error(`Uppy failed: ${result.failed[0].error}`);
    const ms = performance.now() - started;
    instance.destroy();
    return ms;
  }, token);

  // The sink: takes one POST body, counts its bytes, answers 204.
  const sink = createServer((req, res) => {
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-allow-headers', '*');
    res.setHeader('access-control-allow-methods', 'POST');
    if (req.method === 'OPTIONS') return res.writeHead(204).end();
    let bytes = 0;
    req.on('data', (c) => { bytes += c.length; });
    req.on('end', () => res.writeHead(204, { 'x-bytes': String(bytes) }).end());
  });
  await new Promise((r) => sink.listen(0, '127.0.0.1', r));
  const sinkUrl = `http://127.0.0.1:${sink.address().port}/sink`;

  const streamed = async () => page.evaluate(async (sinkUrl) => {
    const picked = document.getElementById('plain').files[0];
    const started = performance.now();
    const answer = await fetch(sinkUrl, { method: 'POST', body: picked });
    if (answer.status !== 204) throw new Error(`sink answered ${answer.status}`);
    return performance.now() - started;
  }, sinkUrl);

  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const emulate = async (link) => {
    const profiles = {
      '40ms': { latency: 40, mbit: 200 },
      '150ms': { latency: 150, mbit: 50 },
    };
    const profile = profiles[link];
    await cdp.send('Network.emulateNetworkConditions', profile
      ? { offline: false, latency: profile.latency, downloadThroughput: profile.mbit * 1e6 / 8, uploadThroughput: profile.mbit * 1e6 / 8 }
      : { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  };

  const widget = async (round) => {
    const before = await page.evaluate(() => window.satchelEvents.filter((e) => e.type === 'satchel:upload-complete').length);
    // A fresh copy each round, so the widget does not resume a finished upload.
    const copy = path.join(work, `widget-${round}.bin`);
    execFileSync('cp', [file, copy]);
    // Timed inside the page, as the streamed request is: from the pick
    // (the input's change event) to the widget's completion event, so
    // Playwright's own round trips and polling do not count.
    await page.evaluate(() => {
      window.benchTimes = {};
      const input = document.querySelector('#uploader input[type=file]');
      input.addEventListener('change', () => { window.benchTimes.picked = performance.now(); },
        { capture: true, once: true });
      document.getElementById('uploader').addEventListener('satchel:upload-complete',
        () => { window.benchTimes.completed = performance.now(); }, { once: true });
    });
    await page.locator('#uploader input[type=file]').setInputFiles(copy);
    await page.waitForFunction((n) => window.satchelEvents.filter((e) => e.type === 'satchel:upload-complete').length > n,
      before, { timeout: 0, polling: 50 });
    const times = await page.evaluate(() => window.benchTimes);
    if (process.env.SATCHEL_BENCH_TIMELINE) {
      // Each request the widget made, in ms from the pick: where the time went.
      const entries = await page.evaluate((from) => performance.getEntriesByType('resource')
        .filter((e) => e.startTime >= from && !e.name.includes('/sink'))
        .map((e) => `${e.name.replace(/^.*\/(upload|v1\.0)\//, '$1/').slice(0, 40)} ` +
          `${(e.startTime - from).toFixed(0)}..${(e.responseEnd - from).toFixed(0)}`), times.picked);
      console.log(`    timeline (ms from the pick, completed at ${(times.completed - times.picked).toFixed(0)}): ${entries.join(', ')}`);
      await page.evaluate(() => performance.clearResourceTimings());
    }
    rmSync(copy);
    return times.completed - times.picked;
  };

  const mbps = (ms) => megabytes / (ms / 1000);
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  let uploads = 0;
  for (const link of links) {
    await emulate(link);
    const goal = link === 'loopback' ? 0.7 : 0.85;
    const ratios = [];
    const results = { streamed: [], widget: [], uppy: [] };
    const versusUppy = [];
    console.log(`widget benchmark, ${link}: ${mebibytes} MiB, ${rounds} rounds`);
    for (let r = 1; r <= rounds; r++) {
      const w = mbps(await widget(`${link}-${r}`));
      const s = mbps(await streamed());
      const u = mbps(await uppy());
      uploads += 1;
      results.widget.push(w);
      results.streamed.push(s);
      results.uppy.push(u);
      ratios.push(w / s);
      versusUppy.push(w / u);
      console.log(`  round ${r}: widget ${w.toFixed(1)} MB/s, one streamed request ${s.toFixed(1)} MB/s, ratio ${(w / s).toFixed(2)}; Uppy (tus) ${u.toFixed(1)} MB/s, widget / Uppy ${(w / u).toFixed(2)}`);
    }
    console.log(`  median: widget ${median(results.widget).toFixed(1)} MB/s, streamed ${median(results.streamed).toFixed(1)} MB/s, ratio ${median(ratios).toFixed(2)} (goal >= ${goal}); Uppy ${median(results.uppy).toFixed(1)} MB/s, widget / Uppy ${median(versusUppy).toFixed(2)} (goal >= 1)`);
  }
  await emulate('loopback');
  sink.close();
  const wasmBytes = await page.evaluate(() => window.satchelWasmBytes());
  console.log(`widget wasm memory after ${uploads} uploads: ${(wasmBytes / 1048576).toFixed(1)} MiB`);
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
