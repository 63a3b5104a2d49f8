import { test, expect } from '@playwright/test';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createToken } from './support';

// Uppy (the `uppy` bundle: @uppy/core, @uppy/dashboard, @uppy/tus) on the
// page that also carries Satchel's widget, in Chromium: a user picks a
// file in Uppy's Dashboard and presses Upload. Uppy's tus requests cross
// a proxy on another origin (so CORS is exercised too) whose link drops
// in the middle of the first PATCH; Uppy resumes. The widget uploads on
// the same page, to the same server, meanwhile. Both files are then read
// back through the Files API.

const MB = 1_000_000;
const uppyDist = path.join(__dirname, '..', 'node_modules', 'uppy', 'dist');

/**
 * An HTTP proxy to `target` on a port of its own that rewrites the
 * upload URLs Satchel hands out to point back at itself, and cuts the
 * first PATCH's connection once `cutAt` bytes of its body went through.
 */
async function droppingProxy(target: string, cutAt: number) {
  const upstreamUrl = new URL(target);
  /** `Upload-Offset` of each PATCH that got an answer, with its status. */
  const answeredPatches: { offset: number; status: number }[] = [];
  let dropped = false;
  let origin = '';
  const server = http.createServer((req, res) => {
    const upstream = http.request(
      { host: upstreamUrl.hostname, port: upstreamUrl.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        // Every request on a connection of its own: a browser silently
        // sends a request again when a reused connection drops before the
        // answer, so the cut PATCH would be re-sent whole instead of Uppy
        // asking where the upload stands.
        const headers = { ...answer.headers, connection: 'close' };
        if (typeof headers.location === 'string') headers.location = headers.location.replace(upstreamUrl.origin, origin);
        if (req.method === 'PATCH') {
          answeredPatches.push({ offset: Number(req.headers['upload-offset']), status: answer.statusCode ?? 0 });
        }
        res.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    if (req.method !== 'PATCH') {
      req.pipe(upstream);
      return;
    }
    if (dropped) {
      req.pipe(upstream);
      return;
    }
    dropped = true;
    let sent = 0;
    req.on('data', (chunk: Buffer) => {
      if (sent >= cutAt) return;
      const take = chunk.subarray(0, cutAt - sent);
      upstream.write(take);
      sent += take.length;
      if (sent >= cutAt) {
        // Time for the bytes to arrive, then the link drops both ways.
        setTimeout(() => {
          upstream.destroy();
          req.socket.destroy();
        }, 300);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, answeredPatches, close: () => server.close() };
}

test('Uppy and the widget on one page, to one server; a dropped link resumes', async ({ page, baseURL }) => {
  test.setTimeout(120_000);
  const dir = mkdtempSync(path.join(tmpdir(), 'satchel-uppy-'));
  try {
    const bytes = Buffer.alloc(8 * MB);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 11)) & 0xff;
    const uppyFile = path.join(dir, 'uppy-report.bin');
    writeFileSync(uppyFile, bytes);
    const widgetBytes = Buffer.from('uploaded by the widget beside Uppy\n'.repeat(3000));
    const widgetFile = path.join(dir, 'widget-notes.txt');
    writeFileSync(widgetFile, widgetBytes);

    const token = createToken('files');
    const cutAt = 3 * MB + 4321;
    const proxy = await droppingProxy(baseURL!, cutAt);
    await page.goto('/embed-demo');
    await expect(page.locator('body')).toHaveAttribute('data-widget', 'ready', { timeout: 30_000 });
    await page.addStyleTag({ path: path.join(uppyDist, 'uppy.min.css') });
    await page.addScriptTag({ path: path.join(uppyDist, 'uppy.min.js') });
    await page.evaluate(({ token, endpoint }) => {
      const target = document.createElement('div');
      target.id = 'uppy';
      document.body.append(target);
      const { Uppy, Dashboard, Tus } = (window as any).Uppy;
      const uppy = new Uppy({ id: 'beside-satchel' })
        .use(Dashboard, { inline: true, target: '#uppy', height: 360 })
        .use(Tus, { endpoint, headers: { Authorization: `Bearer ${token}` }, retryDelays: [300, 600, 1000, 2000, 3000] });
      const w = window as any;
      w.uppyDone = new Promise((resolve, reject) => {
        // The last PATCH's answer names the file Satchel made of the upload.
        uppy.on('upload-success', (_: unknown, response: { body: { xhr: XMLHttpRequest } }) =>
          resolve(response.body.xhr.getResponseHeader('Satchel-File-Uuid')));
        uppy.on('upload-error', (_: unknown, error: Error) => reject(error.message));
      });
    }, { token, endpoint: `${proxy.origin}/tus` });

    await page.locator('#uppy input[type=file]').first().setInputFiles(uppyFile);
    await page.getByRole('button', { name: /Upload 1 file/ }).click();
    // The widget uploads on the same page meanwhile.
    await page.locator('#uploader input[type=file]').setInputFiles(widgetFile);

    const uuid: string = await page.evaluate(() => (window as any).uppyDone);
    expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
    // The cut PATCH got no answer; Uppy asked where the upload stood and
    // sent the rest from exactly past the bytes the server kept of it.
    expect(proxy.answeredPatches).toContainEqual({ offset: cutAt, status: 204 });
    expect(proxy.answeredPatches.filter((p) => p.status === 204).map((p) => p.offset)).toEqual([cutAt]);
    proxy.close();

    const auth = { Authorization: `Bearer ${token}` };
    const file = await (await page.request.get(`/v1.0/files/${uuid}`, { headers: auth })).json();
    expect(file.size).toBe(bytes.length);
    expect(file.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(file.name).toBe('uppy-report');

    // The widget's file is in the same catalogue.
    await expect.poll(async () => {
      const listed = await page.request.get('/v1.0/files?filter[term]=widget-notes', { headers: auth });
      return listed.status() === 200 ? (await listed.json())._embedded.files[0].sha256 : null;
    }, { timeout: 60_000 }).toBe(createHash('sha256').update(widgetBytes).digest('hex'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
