// Same client, three servers, one run: tus-js-client (Node) uploads the
// same file on loopback to Satchel's tus face, to @tus/server with its file
// store (in a Node process of its own) and to rustus (`--force-fsync`, when
// `rustus` is on PATH), in turn, round after round, with the same options.
// Each upload is timed from start to onSuccess; prints MB/s per round, the
// ratios Satchel / @tus/server and Satchel / rustus, and their medians.
// After each upload to Satchel the file's SHA-256 (GET /v1.0/files/{uuid})
// must equal the local file's.
//
// Satchel makes every part durable (fdatasync) and hashes the whole file;
// rustus fsyncs with --force-fsync; @tus/server's file store never syncs,
// so its figure is the page cache's. `sync` runs between uploads (not
// timed), so no server inherits the previous one's writeback.
//
// Run through scripts/bench-tus.sh. SATCHEL_BENCH_MB (MiB, default 1024),
// SATCHEL_BENCH_ROUNDS (default 3), SATCHEL_BENCH_CHUNK_MB (tus-js-client's
// chunkSize in MiB; default 0: one PATCH for the whole file) and
// SATCHEL_BENCH_DIR (where the temp dir goes) change the load.
// SATCHEL_BENCH_LOG sets Satchel's RUST_LOG: `warn,satchel::ingest=debug`
// prints each stored piece's receive, sync, record and digest times.
import { Upload } from 'tus-js-client';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, fdatasyncSync, mkdtempSync, openSync, writeSync, closeSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Child mode: @tus/server with its file store in DIR, on a free loopback
// port, which it prints on stdout.
if (process.argv[2] === '--tus-node-server') {
  const { Server } = await import('@tus/server');
  const { FileStore } = await import('@tus/file-store');
  const tusServer = new Server({ path: '/files', datastore: new FileStore({ directory: process.argv[3] }) });
  const server = createServer((req, res) => tusServer.handle(req, res));
  server.requestTimeout = 0;
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
} else {
  await main();
}

async function main() {
  const root = path.resolve(import.meta.dirname, '..', '..');
  const binary = path.join(root, 'target', 'release', 'satchel');
  const mebibytes = Number(process.env.SATCHEL_BENCH_MB ?? 1024);
  const rounds = Number(process.env.SATCHEL_BENCH_ROUNDS ?? 3);
  const chunkMiB = Number(process.env.SATCHEL_BENCH_CHUNK_MB ?? 0);
  const chunkSize = chunkMiB > 0 ? chunkMiB * 1_048_576 : Number.POSITIVE_INFINITY;
  const megabytes = mebibytes * 1.048576;
  const env = { ...process.env, RUST_LOG: process.env.SATCHEL_BENCH_LOG ?? 'warn' };

  const work = mkdtempSync(path.join(process.env.SATCHEL_BENCH_DIR ?? tmpdir(), 'satchel-tus-bench-'));
  const children = [];
  const stop = async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        process.kill(child.pid, 'SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
      }
    }
    rmSync(work, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => { stop().finally(() => process.exit(130)); });
  }

  try {
    // The file: random bytes, hashed as written, then made durable so its
    // writeback does not fall into the first upload.
    const file = path.join(work, 'bench.bin');
    const hash = createHash('sha256');
    {
      const fd = openSync(file, 'w');
      for (let i = 0; i < mebibytes; i++) {
        const block = randomBytes(1_048_576);
        hash.update(block);
        writeSync(fd, block);
      }
      fdatasyncSync(fd);
      closeSync(fd);
    }
    const sha256 = hash.digest('hex');

    const freePort = async () => {
      const s = createNetServer();
      await new Promise((r) => s.listen(0, '127.0.0.1', r));
      const { port } = s.address();
      await new Promise((r) => s.close(r));
      return port;
    };
    const waitFor = async (url, what) => {
      for (let i = 0; ; i++) {
        try { await fetch(url, { method: 'OPTIONS', headers: { 'Tus-Resumable': '1.0.0' } }); return; } catch {}
        if (i > 200) throw new Error(`${what} did not start`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    // Satchel: a fresh data dir (SQLite), a `files` token.
    const satchelDir = path.join(work, 'satchel');
    const satchelPort = await freePort();
    const satchelBase = `http://127.0.0.1:${satchelPort}`;
    children.push(spawn(binary, ['serve', '--listen', `127.0.0.1:${satchelPort}`, '--data-dir', satchelDir],
      { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env }));
    await waitFor(`${satchelBase}/healthz`, 'satchel');
    const token = execFileSync(binary, ['token', 'create', '--scopes', 'files', '--account', 'bench',
      '--data-dir', satchelDir], { cwd: root, encoding: 'utf8', env }).trim().split('\n').pop();

    // @tus/server in a Node process of its own, like the other two servers.
    const tusNodeDir = path.join(work, 'tus-node');
    const tusNode = spawn(process.execPath, [fileURLToPath(import.meta.url), '--tus-node-server', tusNodeDir],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(tusNode);
    const [portLine] = await Promise.race([once(tusNode.stdout, 'data'),
      once(tusNode, 'exit').then(() => { throw new Error('@tus/server did not start'); })]);
    const tusNodeBase = `http://127.0.0.1:${String(portLine).trim()}`;

    // rustus, when installed: durable (--force-fsync), bodies up to a chunk.
    const hasRustus = spawnSync('rustus', ['--help'], { stdio: 'ignore' }).status === 0;
    let rustusBase = null;
    if (hasRustus) {
      const rustusDir = path.join(work, 'rustus');
      const rustusPort = await freePort();
      rustusBase = `http://127.0.0.1:${rustusPort}`;
      const maxBody = Number.isFinite(chunkSize) ? chunkSize : mebibytes * 1_048_576;
      execFileSync('mkdir', ['-p', rustusDir]);
      children.push(spawn('rustus', ['--host', '127.0.0.1', '--port', String(rustusPort),
        '--data-dir', rustusDir, '--info-dir', rustusDir, '--max-body-size', String(maxBody + 1024),
        '--log-level', 'ERROR', '--force-fsync', 'true'], { stdio: ['ignore', 'ignore', 'inherit'] }));
      await waitFor(`${rustusBase}/files`, 'rustus');
    }

    // One upload, the same options for every server but the endpoint and
    // Satchel's token. An fs.ReadStream with a path becomes tus-js-client's
    // FileSource: each PATCH body is a fresh read stream of its range, so
    // nothing of the file is held in memory, whatever chunkSize.
    const upload = (endpoint, headers = {}) => new Promise((resolve, reject) => {
      const started = performance.now();
      const up = new Upload(createReadStream(file), {
        endpoint,
        headers,
        chunkSize,
        retryDelays: null,
        storeFingerprintForResuming: false,
        metadata: { filename: 'bench.bin', filetype: 'application/octet-stream' },
        onError: reject,
        onSuccess: ({ lastResponse }) => resolve({ ms: performance.now() - started, lastResponse, url: up.url }),
      });
      up.start();
    });
    const mbps = (ms) => megabytes / (ms / 1000);
    const settle = () => execFileSync('sync');

    const contenders = [
      {
        name: 'Satchel',
        run: async () => {
          const { ms, lastResponse } = await upload(`${satchelBase}/tus`, { Authorization: `Bearer ${token}` });
          const uuid = lastResponse.getHeader('Satchel-File-Uuid');
          if (!uuid) throw new Error('Satchel: no Satchel-File-Uuid on the last answer');
          const answer = await fetch(`${satchelBase}/v1.0/files/${uuid}`, { headers: { Authorization: `Bearer ${token}` } });
          if (!answer.ok) throw new Error(`Satchel: GET /v1.0/files/${uuid} answered ${answer.status}`);
          const stored = await answer.json();
          if (stored.sha256 !== sha256) throw new Error(`Satchel: sha256 ${stored.sha256}, the file's is ${sha256}`);
          if (stored.size !== mebibytes * 1_048_576) throw new Error(`Satchel: size ${stored.size}`);
          return ms;
        },
      },
      {
        name: '@tus/server',
        run: async () => {
          const { ms, url } = await upload(`${tusNodeBase}/files`);
          const size = statSync(path.join(tusNodeDir, url.split('/').pop())).size;
          if (size !== mebibytes * 1_048_576) throw new Error(`@tus/server: stored ${size} bytes`);
          return ms;
        },
      },
      ...(hasRustus ? [{ name: 'rustus', run: async () => (await upload(`${rustusBase}/files`)).ms }] : []),
    ];

    const chunkLabel = Number.isFinite(chunkSize) ? `${chunkMiB} MiB chunks` : 'one PATCH';
    console.log(`tus benchmark: tus-js-client 4.3.1 on Node ${process.version}, ${mebibytes} MiB, ${chunkLabel}, ${rounds} rounds`);
    if (!hasRustus) console.log('rustus: not installed (scripts/bench-upload.sh installs it)');

    const results = Object.fromEntries(contenders.map((c) => [c.name, []]));
    const overTusNode = [];
    const overRustus = [];
    const fmt = (x, width = 11) => (x == null ? '-' : x.toFixed(1)).padStart(width);
    const ratio = (x, width = 14) => (x == null ? '-' : x.toFixed(2)).padStart(width);
    const header = `${'round'.padEnd(7)}${'Satchel'.padStart(11)}${'@tus/server'.padStart(13)}${'rustus'.padStart(11)}`
      + `${'S/@tus'.padStart(14)}${'S/rustus'.padStart(14)}`;
    const row = (label, s, t, r, st, sr) => console.log(`${label.padEnd(7)}${fmt(s)}${fmt(t, 13)}${fmt(r)}${ratio(st)}${ratio(sr)}`);
    console.log('MB/s (10^6 bytes a second), upload start to onSuccess');
    console.log(header);
    for (let round = 1; round <= rounds; round++) {
      const here = {};
      for (const c of contenders) {
        settle();
        here[c.name] = mbps(await c.run());
        results[c.name].push(here[c.name]);
      }
      const st = here.Satchel / here['@tus/server'];
      const sr = hasRustus ? here.Satchel / here.rustus : null;
      overTusNode.push(st);
      if (sr != null) overRustus.push(sr);
      row(String(round), here.Satchel, here['@tus/server'], here.rustus, st, sr);
    }
    const median = (xs) => {
      if (xs.length === 0) return null;
      const s = [...xs].sort((a, b) => a - b);
      const m = Math.floor(s.length / 2);
      return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
    };
    row('median', median(results.Satchel), median(results['@tus/server']), median(results.rustus ?? []),
      median(overTusNode), median(overRustus));
    console.log(`every Satchel upload's sha256 matched the file's (${sha256.slice(0, 16)}...)`);
    console.log(`client (this Node process) peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MiB`);
  } finally {
    await stop();
  }
}
