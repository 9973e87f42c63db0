// Drives Debian's chromium with playwright-core over a built HSP site and prints
// what it saw as one JSON object on stdout; the Rust test (tests/e2e/site/browser.rs)
// makes the assertions. Usage: node site.mjs '<json config>'
//   { "base": "http://127.0.0.1:PORT/", "file": "file:///.../index.html",
//     "version": "services/ID/VERSION/index.html", "query": "fhir",
//     "axe": ["index.html", ...], "out": "/abs/tests/output" }
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const cfg = JSON.parse(process.argv[2]);
const axePath = require.resolve('axe-core/axe.min.js');
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsp-chromium-'));

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--no-first-run', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
});
const result = { errors: [], requests: [] };
try {
  const page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (e) => result.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') result.errors.push(m.text()); });
  // Every request must stay on the site's own origin (or file://).
  page.on('request', (r) => result.requests.push(r.url()));
  page.on('response', (r) => { if (r.status() >= 400) result.errors.push(r.status() + ' ' + r.url()); });

  // 1. Search from the served site.
  result.search = await search(page, cfg.base + 'index.html', cfg.query);
  fs.mkdirSync(cfg.out, { recursive: true });
  await page.screenshot({ path: path.join(cfg.out, 'site-search.png'), fullPage: false });

  // Filters: yanked hidden by default, shown on demand.
  await page.goto(cfg.base + 'index.html');
  await page.waitForSelector('#results li');
  result.filters = {
    default: await page.locator('#results li').count(),
    yankedShown: await (async () => { await page.check('#f-yanked'); return page.locator('#results li').count(); })(),
  };

  // 2. A version page: its graph and its requirement links.
  const resp = await page.goto(cfg.base + cfg.version);
  result.version = { status: resp.status() };
  const svg = page.locator('svg.graph');
  result.version.graphVisible = await svg.isVisible();
  result.version.graphBox = await svg.boundingBox();
  result.version.graphTitle = await page.locator('svg.graph > title').textContent();
  result.version.graphLinks = await page.$$eval('svg.graph a', (as) => as.map((a) => a.getAttribute('href')));
  result.version.requirementLinks = await page.$$eval('td.providers a', (as) => as.map((a) => a.href));
  await page.screenshot({ path: path.join(cfg.out, 'site-version.png'), fullPage: true });
  // Every link of the graph and the requirement table opens a page.
  const base = page.url();
  const targets = [...new Set([
    ...result.version.graphLinks.map((h) => new URL(h, base).href),
    ...result.version.requirementLinks,
  ])];
  result.version.followed = [];
  for (const t of targets) {
    const r = await page.goto(t);
    result.version.followed.push({ url: t, status: r.status(), h1: await page.locator('h1').first().textContent() });
  }
  // Clicking a provider in the graph navigates (links inside inline SVG work).
  await page.goto(cfg.base + cfg.version);
  const first = page.locator('svg.graph a').first();
  if (await first.count()) {
    await Promise.all([page.waitForLoadState('load'), first.click()]);
    result.version.clicked = { url: page.url(), h1: await page.locator('h1').first().textContent() };
  }

  // 3. axe-core on representative pages.
  result.axe = {};
  for (const p of cfg.axe) {
    await page.goto(cfg.base + p);
    await page.addScriptTag({ path: axePath });
    const violations = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ['violations'] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
    });
    result.axe[p] = violations;
  }

  // 4. The same site opened from a folder (file://): search still works.
  result.file = await search(page, cfg.file, cfg.query);
  const link = page.locator('#results li h3 a').first();
  await Promise.all([page.waitForLoadState('load'), link.click()]);
  result.file.clicked = { url: page.url(), h1: await page.locator('h1').first().textContent() };
} catch (e) {
  result.errors.push('driver: ' + (e && e.stack || e));
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(result) + '\n');

async function search(page, url, query) {
  await page.goto(url);
  await page.waitForSelector('#results li');
  const before = await page.locator('#results li').count();
  await page.fill('#q', query);
  await page.waitForFunction((q) => {
    const c = document.getElementById('count');
    return c && location.hash.includes('q=' + q);
  }, query);
  const names = await page.$$eval('#results li h3 a', (as) => as.map((a) => a.textContent.trim()));
  const count = await page.locator('#count').textContent();
  return { before, names, count, url: page.url() };
}
