import { test, expect } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { loginLink } from './support';

test('a sign-in link opens the pages; lists read without JavaScript and create with it', async ({ page, browser, baseURL }) => {
  // Before signing in, a page says how to.
  await page.goto('/leads');
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();

  await page.goto(loginLink(baseURL!));
  await expect(page).toHaveURL(/\/$/);
  // The session cookie is out of scripts' reach.
  expect(await page.evaluate(() => document.cookie)).not.toContain('satchel_session');
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'satchel_session')!;
  expect(session.httpOnly).toBe(true);
  expect(session.sameSite).toBe('Lax');

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Leads' }).click();
  await expect(page.getByRole('heading', { name: 'Leads', level: 1 })).toBeVisible();
  await page.getByLabel('Name').fill('Expansion deal');
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page.getByRole('link', { name: 'Expansion deal' })).toBeVisible();
  const scan = await new AxeBuilder({ page }).analyze();
  const serious = scan.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
  await page.screenshot({ path: 'test-results/pages-leads.png', fullPage: true });

  // With JavaScript off, the same session reads the list from the server.
  const noScript = await browser.newContext({ javaScriptEnabled: false });
  await noScript.addCookies([session]);
  const plain = await noScript.newPage();
  await plain.goto('/leads');
  await expect(plain.getByRole('link', { name: 'Expansion deal' })).toBeVisible();
  await noScript.close();

  // Signing out ends the session.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.goto('/leads');
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
});
