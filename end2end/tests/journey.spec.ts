import { test, expect, Page } from '@playwright/test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createToken, loginLink, seriousViolations, upload } from './support';

// A person's way through Satchel's pages, in one browser session: sign
// in, open a lead, upload into Media and see it in the feed, write a note
// and a text field, upload a new version in a file field and download the
// old one, trash the file in the Files manager, see it deleted on the
// card, restore it. Each step leaves a screenshot in test-results/.

const made: string[] = [];
test.afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function localFile(name: string, text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'satchel-journey-'));
  made.push(dir);
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `test-results/journey-${name}.png`, fullPage: true });
}

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  return errors;
}

test('sign in, work on a lead, and trash and restore its file in the Files manager', async ({ page, request, baseURL }) => {
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  // What an integration set up beforehand: a file field holding a contract, and a text field.
  const token = createToken('files,crm', 'journey');
  const headers = { Authorization: `Bearer ${token}` };
  const contract = await upload(request, token, 'Journey contract.pdf', 'contract, first draft');
  const defined = await request.post('/api/v4/leads/custom_fields', {
    headers, data: [{ name: 'Signed contract', type: 'file' }, { name: 'Budget', type: 'text' }],
  });
  const [fileField] = (await defined.json())._embedded.custom_fields;

  // Sign in with the link the server printed.
  await page.goto(loginLink(baseURL!, { account: 'journey' }));
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();

  // A new lead from the list page.
  await page.goto('/leads');
  await page.getByLabel('Name').fill('Journey lead');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('link', { name: 'Journey lead' }).click();
  await expect(page.getByRole('heading', { name: 'Journey lead', level: 1 })).toBeVisible();
  const lead = Number(new URL(page.url()).pathname.split('/').pop());
  const patched = await request.patch(`/api/v4/leads/${lead}`, {
    headers, data: { custom_fields_values: [{ field_id: fileField.id, values: [{ value: { file_uuid: contract.uuid } }] }] },
  });
  expect(patched.status()).toBe(200);
  await page.reload();
  await shot(page, '1-new-lead');

  // Upload into Media: the file shows in the Media tab and in the feed.
  await page.locator('.upload-card input[type=file]').setInputFiles(localFile('Proposal.txt', 'the proposal'));
  await expect(page.locator('.media')).toContainText('Proposal.txt', { timeout: 20_000 });
  await expect(page.locator('.feed')).toContainText('Proposal.txt');

  // A note, and a text field.
  await page.getByLabel('Add a note').fill('Sent the proposal to the client');
  await page.getByRole('button', { name: 'Add note' }).click();
  await expect(page.locator('.feed')).toContainText('Sent the proposal to the client');
  await expect(page.getByLabel('Add a note')).toHaveValue('');
  await page.getByLabel('New value of Budget').fill('12 000 BRL');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator('.field-text')).toHaveText('12 000 BRL');

  // A new version of the contract in its field; the old one still downloads.
  await page.locator('.new-version summary').click();
  await page.locator('.new-version input[type=file]').setInputFiles(localFile('Journey contract.pdf', 'contract, signed'));
  const versions = page.locator('.field-file .versions li');
  await page.locator('.field-file').getByText(/^Versions/).click();
  await expect(versions).toHaveCount(2, { timeout: 20_000 });
  const oldHref = await versions.nth(1).getByRole('link').getAttribute('href');
  expect(await (await request.get(oldHref!)).text()).toBe('contract, first draft');
  const newHref = await versions.nth(0).getByRole('link').getAttribute('href');
  expect(await (await request.get(newHref!)).text()).toBe('contract, signed');
  await shot(page, '2-card');

  // The Files manager lists both; the term filter finds the proposal by the lead's name too.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Files' }).click();
  await expect(page.getByRole('heading', { name: 'Files', level: 1 })).toBeVisible();
  const rows = page.locator('.files-table tbody tr');
  await expect(rows).toHaveCount(2);
  await expect(page.locator('.usage')).toContainText('2 files');
  await page.getByLabel('Name or linked entity').fill('Proposal');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('Journey lead');
  await shot(page, '3-files-filtered');

  // The detail drawer: versions and links.
  await page.goto('/files');
  await page.getByRole('link', { name: 'Journey contract.pdf', exact: true }).click();
  const drawer = page.locator('aside.drawer');
  await expect(drawer.getByRole('heading', { name: 'Journey contract.pdf' })).toBeVisible();
  await expect(drawer.locator('.versions li')).toHaveCount(2);
  await expect(drawer).toContainText('current');
  await shot(page, '4-files-drawer');
  await drawer.getByRole('link', { name: 'Close the details' }).click();
  await expect(drawer).toHaveCount(0);

  // Trash the proposal: it leaves the list, the usage drops, the card shows it deleted.
  await page.getByLabel('Select Proposal.txt').check();
  await page.getByRole('button', { name: 'Move to trash (1)' }).click();
  await expect(rows).toHaveCount(1);
  await expect(page.locator('.usage')).toContainText('1 file ·');
  await page.goto(`/leads/${lead}`);
  const proposal = page.locator('.feed .chip', { hasText: 'Proposal.txt' });
  await expect(proposal).toHaveAttribute('data-deleted', 'true');
  await expect(proposal).toContainText('deleted');
  await shot(page, '5-card-trashed');

  // Restore it from the Trash view, where it shows the days before the purge.
  await page.goto('/files');
  await page.getByRole('link', { name: 'Trash' }).click();
  await expect(page.getByRole('heading', { name: 'Trash', level: 1 })).toBeVisible();
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('in 30 days');
  await shot(page, '6-trash');
  await page.getByRole('button', { name: 'Restore Proposal.txt' }).click();
  await expect(page.getByText('The trash is empty.')).toBeVisible();
  await page.goto(`/leads/${lead}`);
  await expect(proposal).toHaveAttribute('data-deleted', 'false');
  await expect(proposal.getByRole('link', { name: 'Proposal.txt' })).toBeVisible();
  expect(errors).toEqual([]);
});

test('the Files manager orders, pages and reports a bad filter value', async ({ page, request, baseURL }) => {
  const token = createToken('files', 'pager');
  for (let i = 0; i < 27; i += 1) {
    await upload(request, token, `pager-${String(i).padStart(2, '0')}.log`, 'x'.repeat(i + 1));
  }
  await page.goto(loginLink(baseURL!, { account: 'pager' }));
  await page.goto('/files?ext=log');
  const rows = page.locator('.files-table tbody tr');
  await expect(rows).toHaveCount(25);
  // Newest first by default; by name A to Z after a click, Z to A after two.
  await expect(rows.first()).toContainText('pager-26.log');
  await page.getByRole('link', { name: 'Name' }).click();
  await expect(rows.first()).toContainText('pager-00.log');
  await expect(page.getByRole('columnheader', { name: 'Name' })).toHaveAttribute('aria-sort', 'ascending');
  await page.getByRole('link', { name: 'Name' }).click();
  await expect(rows.first()).toContainText('pager-26.log');
  await page.getByRole('link', { name: 'Size' }).click();
  await expect(rows.first()).toContainText('pager-26.log');
  await page.getByRole('link', { name: 'Next →' }).click();
  await expect(rows).toHaveCount(2);
  await expect(page.getByText('Page 2')).toBeVisible();
  await expect(rows.last()).toContainText('pager-00.log');
  // Trashing the whole last page says so and links back.
  await page.getByLabel('Select every file on this page').check();
  await page.getByRole('button', { name: 'Move to trash (2)' }).click();
  await expect(page.getByRole('status')).toHaveText('Moved 2 files to the trash.');
  await expect(page.getByText('This page is empty now.')).toBeVisible();
  await page.getByRole('link', { name: '← Previous page' }).click();
  await expect(rows).toHaveCount(25);
  // The size filter in kilobytes, then a value the API refuses, named.
  await page.goto('/files?ext=log&size_from=0.02&unit=KB');
  await expect(rows).toHaveCount(8);
  await page.goto('/files?trash=1&ext=log');
  await expect(rows).toHaveCount(2);
  await page.goto('/files?size_from=lots');
  await expect(page.getByRole('alert')).toContainText('filter[size][from]');
});

test('a sign-in without delete rights sees trashing as unavailable', async ({ page, request, baseURL }) => {
  await upload(request, createToken('files', 'keeper'), 'keep-me.txt', 'keep');
  await page.goto(loginLink(baseURL!, { noDelete: true, account: 'keeper' }));
  await page.goto('/files?term=keep-me');
  await page.getByLabel('Select keep-me.txt').check();
  const trash = page.getByRole('button', { name: 'Move to trash' });
  await expect(trash).toBeDisabled();
  await expect(page.getByText('Your sign-in may not delete files.')).toBeVisible();
  await shot(page, 'no-delete');
});

test('every page reads with JavaScript off and has no serious axe violations', async ({ browser, request, baseURL }) => {
  const token = createToken('files,crm', 'axe');
  const headers = { Authorization: `Bearer ${token}` };
  const file = await upload(request, token, 'Scan me.pdf', 'scan');
  const ids: Record<string, number> = {};
  for (const kind of ['leads', 'contacts', 'companies']) {
    const made = await request.post(`/api/v4/${kind}`, { headers, data: [{ name: `Axe ${kind}` }] });
    ids[kind] = (await made.json())._embedded[kind][0].id;
    await request.put(`/api/v4/${kind}/${ids[kind]}/files`, { headers, data: [{ file_uuid: file.uuid }] });
  }
  const pages = [
    '/', '/leads', '/contacts', '/companies',
    `/leads/${ids.leads}`, `/contacts/${ids.contacts}`, `/companies/${ids.companies}`,
    '/files', '/files?trash=1', `/files?open=${file.uuid}`, '/no-such-page',
  ];
  // Signed out: every page says how to sign in.
  const stranger = await browser.newContext();
  const anonymous = await stranger.newPage();
  for (const at of ['/leads', '/files']) {
    await anonymous.goto(at);
    await expect(anonymous.getByRole('heading', { name: 'Sign in' })).toBeVisible();
    expect(await seriousViolations(anonymous), at).toEqual([]);
  }
  await stranger.close();
  // Without JavaScript, signed in: the server's HTML alone shows the data.
  const noScript = await browser.newContext({ javaScriptEnabled: false });
  const reader = await noScript.newPage();
  await reader.goto(loginLink(baseURL!, { account: 'axe' }));
  await reader.goto(`/leads/${ids.leads}`);
  await expect(reader.locator('.media')).toContainText('Scan me.pdf');
  await reader.goto('/files?term=Scan');
  await expect(reader.locator('.files-table tbody tr')).toHaveCount(1);
  await expect(reader.locator('.files-table')).toContainText('Axe companies');
  await reader.goto(`/files?open=${file.uuid}`);
  await expect(reader.locator('aside.drawer')).toContainText('Axe contacts');
  await noScript.close();
  // Hydrated, on a desktop and on a 360 px phone.
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(loginLink(baseURL!, { account: 'axe' }));
  for (const width of [1280, 360]) {
    await page.setViewportSize({ width, height: 800 });
    for (const at of pages) {
      await page.goto(at);
      await page.waitForLoadState('networkidle');
      expect(await seriousViolations(page), `${at} at ${width} px`).toEqual([]);
    }
  }
  await page.goto('/files');
  await shot(page, 'files-phone');
  await context.close();
});
