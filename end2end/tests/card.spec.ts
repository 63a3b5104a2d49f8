import { test, expect } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createToken, loginLink, upload } from './support';

test('an entity card shows the feed, the Media tab and file fields with their versions', async ({ page, request, baseURL }) => {
  const token = createToken('files,files_delete,crm');
  const headers = { Authorization: `Bearer ${token}` };
  const contract = await upload(request, token, 'Contract.pdf', 'first draft');
  await upload(request, token, 'Contract.pdf', 'signed version', contract.uuid);
  const quote = await upload(request, token, 'Quote.pdf', 'quote');
  const old = await upload(request, token, 'Old.txt', 'old');
  const field = (await (await request.post('/api/v4/leads/custom_fields', { headers, data: [{ name: 'Contract', type: 'file' }] })).json())._embedded.custom_fields[0].id;
  const made = await request.post('/api/v4/leads', {
    headers,
    data: [{ name: 'Card lead', custom_fields_values: [{ field_id: field, values: [{ value: { file_uuid: contract.uuid } }] }] }],
  });
  const lead = (await made.json())._embedded.leads[0].id;
  await request.post(`/api/v4/leads/${lead}/notes`, {
    headers,
    data: [
      { note_type: 'common', params: { text: 'Quote attached' }, created_at: 1_800_000_000 },
      { note_type: 'attachment', params: { file_uuid: quote.uuid, file_name: 'Quote.pdf' }, created_at: 1_800_000_000 },
      { note_type: 'attachment', params: { file_uuid: old.uuid, file_name: 'Old.txt' }, created_at: 1_800_000_100 },
    ],
  });
  const trashed = await request.delete('/v1.0/files', { headers, data: [{ uuid: old.uuid }] });
  expect(trashed.status()).toBe(200);
  expect(await trashed.json()).toEqual({ result: true });

  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
  await page.goto(loginLink(baseURL!));
  await page.goto(`/leads/${lead}`);
  await expect(page.getByRole('heading', { name: 'Card lead', level: 1 })).toBeVisible();
  // The feed: the comment and its file are one item; the trashed file shows as deleted.
  const feed = page.locator('.feed-item');
  await expect(feed).toHaveCount(2);
  await expect(feed.first()).toContainText('Quote attached');
  await expect(feed.first().getByRole('link', { name: 'Quote.pdf' })).toBeVisible();
  await expect(feed.nth(1)).toContainText('deleted');
  // The Media tab holds the note files, not the field's.
  const media = page.locator('.media li');
  await expect(media).toHaveCount(2);
  await expect(page.locator('.media')).not.toContainText('Contract.pdf');
  // The field shows its file and both versions, newest first; the old one downloads.
  const fieldFile = page.locator('.field-file');
  await fieldFile.getByText(/^Versions/).click();
  await expect(fieldFile.locator('.versions li')).toHaveCount(2);
  const oldLink = fieldFile.locator('.versions li').nth(1).getByRole('link');
  const download = await request.get(await oldLink.getAttribute('href') as string);
  expect(await download.text()).toBe('first draft');
  const scan = await new AxeBuilder({ page }).analyze();
  const serious = scan.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
  await page.screenshot({ path: 'test-results/pages-card.png', fullPage: true });
  await page.setViewportSize({ width: 360, height: 800 });
  await page.screenshot({ path: 'test-results/pages-card-phone.png', fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  // Upload into the Media tab with the widget; then detach it again.
  const dir = mkdtempSync(path.join(tmpdir(), 'satchel-card-'));
  const file = path.join(dir, 'Brief.txt');
  writeFileSync(file, 'the brief');
  await page.locator('.upload-card input[type=file]').setInputFiles(file);
  await expect(page.locator('.media')).toContainText('Brief.txt', { timeout: 20_000 });
  await expect(media).toHaveCount(3);
  await page.getByRole('button', { name: 'Detach Brief.txt' }).click();
  await expect(media).toHaveCount(2);
  await expect(page.locator('.media')).not.toContainText('Brief.txt');

  // A new version of the field's file, uploaded in the field: three versions now.
  const next = path.join(dir, 'Contract-v3.pdf');
  writeFileSync(next, 'third version');
  await page.locator('.new-version summary').click();
  await page.locator('.new-version input[type=file]').setInputFiles(next);
  await page.locator('.field-file').getByText(/^Versions/).click();
  await expect(page.locator('.field-file .versions li')).toHaveCount(3, { timeout: 20_000 });
  rmSync(dir, { recursive: true, force: true });
  expect(errors).toEqual([]);
});
