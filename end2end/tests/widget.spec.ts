import { test, expect, Page, Request } from '@playwright/test';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { createToken } from './support';

const MB = 1_000_000;
/** The part size the tests that count parts ask for (`?part_size=`); the
 * widget's own default is larger. */
const PART = 524_288;
const SMALL_PARTS = `?part_size=${PART}`;

const made: string[] = [];
test.afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A file of random bytes on disk, and its SHA-256. */
function makeFile(name: string, size: number): { path: string; sha256: string; size: number } {
  const dir = mkdtempSync(path.join(tmpdir(), 'satchel-e2e-'));
  made.push(dir);
  const file = path.join(dir, name);
  const bytes = randomBytes(size);
  writeFileSync(file, bytes);
  return { path: file, sha256: createHash('sha256').update(bytes).digest('hex'), size };
}

/** Opens the embed demo and waits for the widget. */
async function openWidget(page: Page, query = '', choose = 'Choose files'): Promise<void> {
  await page.goto(`/embed-demo${query}`);
  // The first page of a run compiles the wasm bundle, which takes seconds
  // on a busy machine.
  await expect(page.locator('body')).toHaveAttribute('data-widget', 'ready', { timeout: 30_000 });
  await expect(page.getByRole('button', { name: choose })).toBeVisible();
}

async function pick(page: Page, files: string[]): Promise<void> {
  await page.locator('#uploader input[type=file]').setInputFiles(files);
}

type WidgetEvent = { type: string; detail: any };
const events = (page: Page): Promise<WidgetEvent[]> => page.evaluate(() => (window as any).satchelEvents);

/** The file objects of the completed uploads so far. */
async function completed(page: Page): Promise<any[]> {
  return (await events(page)).filter((e) => e.type === 'satchel:upload-complete').map((e) => e.detail);
}

async function waitForCompletions(page: Page, count: number, timeout = 120_000): Promise<any[]> {
  await expect.poll(async () => (await completed(page)).length, { timeout }).toBe(count);
  return completed(page);
}

/** The file as the API reports it, read with an operator's token. */
async function apiFile(page: Page, uuid: string): Promise<any> {
  const token = createToken('files');
  const answer = await page.request.get(`/v1.0/files/${uuid}`, { headers: { Authorization: `Bearer ${token}` } });
  expect(answer.status()).toBe(200);
  return answer.json();
}

/** Part POSTs the page sends, counted by part URL. */
function countParts(page: Page): Map<string, number> {
  const sent = new Map<string, number>();
  page.on('request', (r: Request) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname.startsWith('/upload/')) {
      const key = new URL(r.url()).pathname;
      sent.set(key, (sent.get(key) ?? 0) + 1);
    }
  });
  return sent;
}

test('a 25 MB file uploads through the embedded widget and arrives byte for byte', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const file = makeFile('big.bin', 25 * MB);
  await openWidget(page);
  await pick(page, [file.path]);
  const [done] = await waitForCompletions(page, 1);
  expect(done.size).toBe(file.size);
  expect(done.sha256).toBe(file.sha256);
  const stored = await apiFile(page, done.uuid);
  expect(stored.sha256).toBe(file.sha256);
  expect(stored.size).toBe(file.size);
  // Progress events came along the way (at most ten a second), rising.
  const progress = (await events(page)).filter((e) => e.type === 'satchel:upload-progress');
  expect(progress.length).toBeGreaterThan(0);
  const dones = progress.map((e) => e.detail.done);
  expect(dones).toEqual([...dones].sort((a, b) => a - b));
  expect(dones.every((d) => d % PART === 0 && d < file.size)).toBe(true);
  const bar = page.getByRole('progressbar', { name: /Upload progress of big\.bin/ });
  await expect(bar).toHaveAttribute('aria-valuenow', '100');
  await expect(page.locator('li.upload')).toHaveAttribute('data-status', 'done');
  await expect(page.getByRole('status')).toContainText('Uploaded: big.bin');
  expect(errors).toEqual([]);
  await page.screenshot({ path: 'test-results/widget-25mb.png', fullPage: true });
});

test('a file over the size the browser hashes at once is hashed part by part and arrives intact', async ({ page }) => {
  // NATIVE_WHOLE_MAX is 128 MiB: past it the whole-file digest is carried
  // over the parts in wasm.
  const file = makeFile('huge.bin', 128 * 1_048_576 + 4099);
  await openWidget(page);
  await pick(page, [file.path]);
  const [done] = await waitForCompletions(page, 1, 180_000);
  expect(done.sha256).toBe(file.sha256);
  expect((await apiFile(page, done.uuid)).sha256).toBe(file.sha256);
});

/** The most part POSTs the page had on the wire at once. */
function peakInFlight(page: Page): () => number {
  let now = 0;
  let peak = 0;
  const isPart = (r: Request) => r.method() === 'POST' && new URL(r.url()).pathname.startsWith('/upload/');
  page.on('request', (r) => { if (isPart(r)) peak = Math.max(peak, ++now); });
  page.on('requestfinished', (r) => { if (isPart(r)) now -= 1; });
  page.on('requestfailed', (r) => { if (isPart(r)) now -= 1; });
  return () => peak;
}

test('uploads complete intact with several parts in flight while a fifth of the part requests are aborted', async ({ page }) => {
  let aborted = 0;
  let seen = 0;
  const peak = peakInFlight(page);
  // A seeded generator, so every run aborts the same fifth of the parts
  // (and never none: the second part request is always cut).
  let seed = 0x2458c6;
  const next = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) / 0x1000000;
  };
  await page.route('**/upload/**', async (route) => {
    if (route.request().method() === 'POST') {
      seen += 1;
      if (seen === 2 || next() < 0.2) {
        aborted += 1;
        return route.abort('connectionreset');
      }
    }
    return route.continue();
  });
  const files = [makeFile('one.bin', 6 * MB), makeFile('two.bin', 5 * MB + 123)];
  await openWidget(page, SMALL_PARTS);
  await pick(page, files.map((f) => f.path));
  const done = await waitForCompletions(page, 2, 180_000);
  for (const f of files) {
    const match = done.find((d) => d.size === f.size);
    expect(match?.sha256).toBe(f.sha256);
    expect((await apiFile(page, match.uuid)).sha256).toBe(f.sha256);
  }
  expect(aborted).toBeGreaterThan(1);
  expect(seen).toBeGreaterThan(aborted);
  expect(peak()).toBeGreaterThan(2);
});

test('going offline mid-upload resumes by itself and re-sends at most the parts in flight', async ({ page, context }) => {
  const sent = countParts(page);
  // Slow the parts a little so the switch lands mid-upload.
  await page.route('**/upload/**', async (route) => {
    if (route.request().method() === 'POST') await new Promise((r) => setTimeout(r, 40));
    return route.continue().catch(() => {});
  });
  const file = makeFile('offline.bin', 12 * MB);
  await openWidget(page, SMALL_PARTS);
  await pick(page, [file.path]);
  const row = page.locator('li.upload');
  await expect.poll(async () => Number(await page.getByRole('progressbar', { name: /offline\.bin/ }).getAttribute('aria-valuenow'))).toBeGreaterThan(10);
  await context.setOffline(true);
  await expect(row).toHaveAttribute('data-status', 'offline', { timeout: 15_000 });
  await page.waitForTimeout(1500);
  await context.setOffline(false);
  const [done] = await waitForCompletions(page, 1);
  expect(done.sha256).toBe(file.sha256);
  const parts = Math.ceil(file.size / PART);
  const total = [...sent.values()].reduce((a, b) => a + b, 0);
  // Every part once, plus at most the six that were on the wire.
  expect(total).toBeGreaterThanOrEqual(parts);
  expect(total - parts).toBeLessThanOrEqual(6);
});

test('after a reload mid-upload, picking the same file re-sends at most the parts that were in flight', async ({ page }) => {
  const file = makeFile('reload.bin', 10 * MB);
  const key = (r: Request) => new URL(r.url()).search || new URL(r.url()).pathname;
  const acknowledged = new Set<string>();
  const before = new Set<string>();
  let reloading = false;
  // Before the reload the parts travel slowly, so several are on the wire
  // when the page goes; the part that ends the file is held until then,
  // so the upload cannot finish first on a fast machine.
  const last = `?part=${Math.ceil(file.size / PART)}`;
  let reloaded = false;
  await page.route('**/upload/**', async (route) => {
    // A part the page sends while it is being reloaded never arrives, so
    // the file cannot be completed in the moment before the page goes.
    if (route.request().method() === 'POST' && reloading && !reloaded) {
      return route.abort().catch(() => {});
    }
    if (route.request().method() === 'POST' && !reloading) {
      before.add(key(route.request()));
      await new Promise((r) => setTimeout(r, 150));
      while (key(route.request()) === last && !reloading) {
        await new Promise((r) => setTimeout(r, 50));
      }
      if (reloading) return route.abort().catch(() => {});
    }
    return route.continue().catch(() => {});
  });
  page.on('requestfinished', async (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname.startsWith('/upload/') && !reloading) {
      if ((await r.response())?.status() === 202) acknowledged.add(key(r));
    }
  });
  await openWidget(page, SMALL_PARTS);
  await pick(page, [file.path]);
  await expect.poll(() => acknowledged.size, { timeout: 30_000 }).toBeGreaterThan(6);
  reloading = true;
  const acked = new Set(acknowledged);
  await page.reload();
  reloaded = true;
  await expect(page.locator('body')).toHaveAttribute('data-widget', 'ready', { timeout: 30_000 });
  const after = new Set<string>();
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname.startsWith('/upload/')) after.add(key(r));
  });
  await pick(page, [file.path]);
  const [done] = await waitForCompletions(page, 1);
  expect(done.sha256).toBe(file.sha256);
  // No part acknowledged before the reload went again; of those sent
  // before it, only the ones still in flight (six at most) went again.
  const parts = Math.ceil(file.size / PART);
  const again = [...after].filter((k) => before.has(k));
  expect([...after].filter((k) => acked.has(k))).toEqual([]);
  expect(again.length).toBeLessThanOrEqual(6);
  expect(after.size).toBeLessThanOrEqual(parts - acked.size);
});

test('pause, resume and cancel; cancel frees the session', async ({ page }) => {
  await page.route('**/upload/**', async (route) => {
    // Slow parts: with several in flight the upload still takes seconds.
    if (route.request().method() === 'POST') await new Promise((r) => setTimeout(r, 400));
    return route.continue().catch(() => {});
  });
  const sessions: string[] = [];
  page.on('response', async (r) => {
    if (r.url().endsWith('/v1.0/sessions') && r.request().method() === 'POST') {
      sessions.push((await r.json()).upload_url);
    }
  });
  const file = makeFile('pause.bin', 40 * MB);
  await openWidget(page, SMALL_PARTS);
  await pick(page, [file.path]);
  const row = page.locator('li.upload');
  const bar = page.getByRole('progressbar', { name: /pause\.bin/ });
  await expect.poll(async () => Number(await bar.getAttribute('aria-valuenow'))).toBeGreaterThan(5);
  await row.getByRole('button', { name: 'Pause' }).click();
  await expect(row).toHaveAttribute('data-status', 'paused');
  const paused = Number(await bar.getAttribute('aria-valuenow'));
  await page.waitForTimeout(1000);
  expect(Number(await bar.getAttribute('aria-valuenow'))).toBe(paused);
  await row.getByRole('button', { name: 'Resume' }).click();
  await expect.poll(async () => Number(await bar.getAttribute('aria-valuenow'))).toBeGreaterThan(paused);
  await row.getByRole('button', { name: 'Cancel' }).click();
  await expect(row).toHaveAttribute('data-status', 'cancelled');
  expect(sessions.length).toBe(1);
  const resume = await page.request.get(sessions[0]);
  // The session is gone: cancelled, its parts freed.
  expect(resume.status()).toBe(404);
  expect((await resume.json()).type).toBe('not-found');
  expect(await completed(page)).toEqual([]);
});

test('when the answer that completed a file is lost, the widget reads the file with its token', async ({ page }) => {
  let lost = 0;
  await page.route('**/upload/**', async (route) => {
    if (route.request().method() === 'POST' && lost === 0) {
      // The server stores the part and completes the file; the answer
      // never reaches the page.
      const answer = await route.fetch();
      if (answer.status() === 200) {
        lost += 1;
        return route.abort('connectionreset');
      }
      return route.fulfill({ response: answer });
    }
    return route.continue();
  });
  const sessions: string[] = [];
  const fileReads: string[] = [];
  page.on('response', async (r) => {
    if (r.url().endsWith('/v1.0/sessions') && r.request().method() === 'POST') {
      sessions.push((await r.json()).upload_url);
    }
  });
  page.on('request', (r) => {
    if (r.method() === 'GET' && new URL(r.url()).pathname.startsWith('/v1.0/files/')) fileReads.push(r.url());
  });
  const file = makeFile('lost.bin', 300_000);
  await openWidget(page, SMALL_PARTS);
  await pick(page, [file.path]);
  const [done] = await waitForCompletions(page, 1);
  expect(lost).toBe(1);
  expect(done.sha256).toBe(file.sha256);
  expect(fileReads.some((url) => url.endsWith(`/v1.0/files/${done.uuid}`))).toBe(true);
  // The upload URL names the file and nothing more: no links to its bytes.
  expect(sessions.length).toBe(1);
  const resume = await (await page.request.get(sessions[0])).json();
  expect(resume).toEqual({ session_id: expect.any(Number), status: 'completed', file_uuid: done.uuid });
});

test('pausing and resuming, again and again, is never counted as a failure', async ({ page }) => {
  await page.route('**/upload/**', async (route) => {
    if (route.request().method() === 'POST') await new Promise((r) => setTimeout(r, 300));
    return route.continue().catch(() => {});
  });
  const file = makeFile('pauses.bin', 60 * MB);
  await openWidget(page, SMALL_PARTS);
  await pick(page, [file.path]);
  const row = page.locator('li.upload');
  // More pauses than the failures that stop an upload (12); a pause that
  // counted as one would also wait out a growing backoff after Resume.
  for (let i = 0; i < 14; i++) {
    await expect(row).toHaveAttribute('data-status', 'uploading');
    await row.getByRole('button', { name: 'Pause' }).click();
    await expect(row).toHaveAttribute('data-status', 'paused');
    await row.getByRole('button', { name: 'Resume' }).click();
  }
  const [done] = await waitForCompletions(page, 1);
  expect(done.sha256).toBe(file.sha256);
});

test('three files at once, events reach the host page, keyboard only, and no serious axe violations', async ({ page }) => {
  const files = [makeFile('a.txt', 300_000), makeFile('b.pdf', 1 * MB), makeFile('c.png', 2 * MB + 7)];
  // Parts of 512 KiB, so the larger files report progress before they end.
  await openWidget(page, `${SMALL_PARTS}&concurrency=3`);
  // Keyboard alone: tab to "Choose files", press Enter, pick in the chooser.
  const chooser = page.waitForEvent('filechooser');
  await page.keyboard.press('Tab');
  let guard = 0;
  while (!(await page.getByRole('button', { name: 'Choose files' }).evaluate((b) => b === document.activeElement))) {
    await page.keyboard.press('Tab');
    if (++guard > 10) throw new Error('Choose files is not reachable with Tab');
  }
  await page.keyboard.press('Enter');
  await (await chooser).setFiles(files.map((f) => f.path));
  const done = await waitForCompletions(page, 3);
  expect(done.map((d) => d.sha256).sort()).toEqual(files.map((f) => f.sha256).sort());
  const types = new Set((await events(page)).map((e) => e.type));
  expect(types).toContain('satchel:upload-progress');
  expect(types).toContain('satchel:upload-complete');
  await expect(page.locator('#events li')).toHaveCount(3);
  await expect(page.getByRole('progressbar', { name: 'All uploads' })).toHaveAttribute('aria-valuenow', '100');
  const scan = await new AxeBuilder({ page }).analyze();
  const serious = scan.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
  await page.screenshot({ path: 'test-results/widget-three-files.png', fullPage: true });
});

test('the widget speaks Brazilian Portuguese when asked', async ({ page }) => {
  await openWidget(page, '?lang=pt-BR', 'Escolher arquivos');
  await expect(page.getByText('Solte os arquivos aqui')).toBeVisible();
});

test('with a crm token the widget attaches, adds a note or sets a field after the upload', async ({ page }) => {
  const crm = createToken('files,crm');
  const headers = { Authorization: `Bearer ${crm}` };
  const made = await page.request.post('/api/v4/leads', { headers, data: [{ name: 'Widget lead' }] });
  const lead = (await made.json())._embedded.leads[0].id;
  const defined = await page.request.post('/api/v4/leads/custom_fields', { headers, data: [{ name: 'Contract', type: 'file' }] });
  const field = (await defined.json())._embedded.custom_fields[0].id;
  // A CRM page of its own, on Satchel's origin for the test, with one
  // widget per mode and the page's own crm token.
  await page.route('**/crm-host', (route) => route.fulfill({
    contentType: 'text/html',
    body: `<!DOCTYPE html><html lang="en"><head><title>CRM host</title></head><body><main>
      <div id="attach"></div><div id="note"></div><div id="field"></div></main>
      <script type="module">
        import init, { mount } from '/pkg/satchel.js';
        await init({ module_or_path: '/pkg/satchel.wasm' });
        window.done = {};
        for (const mode of ['attach', 'note', 'field']) {
          const element = document.getElementById(mode);
          element.addEventListener('satchel:upload-complete', (e) => { window.done[mode] = e.detail.uuid; });
          mount(element, { token: ${JSON.stringify(crm)}, mode, entity: { type: 'leads', id: ${lead} }, field_id: ${field} });
        }
        document.body.dataset.widget = 'ready';
      </script></body></html>`,
  }));
  await page.goto('/crm-host');
  await expect(page.locator('body')).toHaveAttribute('data-widget', 'ready', { timeout: 30_000 });
  for (const mode of ['attach', 'note', 'field']) {
    await page.locator(`#${mode} input[type=file]`).setInputFiles(makeFile(`${mode}.txt`, 1000 + mode.length).path);
  }
  await expect.poll(() => page.evaluate(() => Object.keys((window as any).done).length)).toBe(3);
  const done = await page.evaluate(() => (window as any).done);
  const media = await (await page.request.get(`/api/v4/leads/${lead}/files`, { headers })).json();
  const inMedia = media._embedded.files.map((f: any) => f.file_uuid).sort();
  expect(inMedia).toEqual([done.attach, done.note].sort());
  const notes = await (await page.request.get(`/api/v4/leads/${lead}/notes`, { headers })).json();
  expect(notes._embedded.notes.map((n: any) => n.params.file_uuid)).toEqual([done.note]);
  expect(notes._embedded.notes[0].params.file_name).toBe('note.txt');
  const entity = await (await page.request.get(`/api/v4/leads/${lead}`, { headers })).json();
  expect(entity.custom_fields_values[0].values[0].value.file_uuid).toBe(done.field);
});
