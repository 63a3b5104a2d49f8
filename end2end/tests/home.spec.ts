import { test, expect } from '@playwright/test';

test('home page renders on the server, hydrates and links to the API docs', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });

  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'Satchel' })).toBeVisible();
  // The badge flips only once the wasm bundle has hydrated the page.
  const status = page.locator('p.status');
  await expect(status).toHaveAttribute('data-hydrated', 'true');
  await expect(status).toHaveText('Interactive');
  expect(errors).toEqual([]);
  await page.screenshot({ path: 'test-results/home.png', fullPage: true });

  await page.getByRole('link', { name: 'API documentation' }).click();
  await expect(page).toHaveURL(/\/api\/docs\/?/);
  // Swagger UI, served from the binary, renders the document's title.
  await expect(page.locator('.swagger-ui .info .title')).toContainText('Satchel');
  await page.screenshot({ path: 'test-results/api-docs.png' });
});
