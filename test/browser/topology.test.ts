/**
 * The topology page in a real browser: Debian's Chromium (/usr/bin/chromium, no download) driven by
 * playwright-core, against the agent as a process (embedded store, bearer token). The seeds' VETH pair
 * and a microservice item that stays pending are applied; the page must show both namespaces, the
 * pair's line, the pending item with its reason, follow a change live, open the side panel, and draw
 * a plan. A W1-sized topology (served in place of the agent's) must lay out, search and expand.
 * Screenshots go to $TEST_ARTIFACTS_DIR (default dist/test-artifacts).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { skipUnlessRoot } from '../helpers/kernel.js';
import {
  AgentProcess,
  Cleanup,
  configKey,
  deleteNamespaces,
  ROOT,
  seedPair,
  tag,
  type SeedPair,
} from '../helpers/agent.js';
import { w1Topology } from './synthetic.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = process.env.TEST_ARTIFACTS_DIR || path.join(ROOT, 'dist/test-artifacts');

function skipReason(): string | false {
  const root = skipUnlessRoot();
  if (root) return root;
  return existsSync(CHROMIUM) ? false : `no ${CHROMIUM} (test/services/browser.sh installs it)`;
}

async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file });
  console.log(`screenshot: ${file}`);
  return file;
}

/** The texts of an item's row, lines joined by spaces (long reasons are wrapped over lines). */
async function rowText(page: Page, key: string): Promise<string> {
  const lines = await page.locator(`[data-key="${key}"] text`).allTextContents();
  return lines.join(' ');
}

/**
 * Waits until a JavaScript expression is true in the page. Not page.waitForFunction: that evaluates
 * its predicate with eval inside the page, which the page's Content-Security-Policy (rightly) forbids.
 */
async function until(page: Page, expression: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`not true after ${timeoutMs} ms: ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Resolves once the page has drawn again since `before` renders. */
async function renderedAfter(page: Page, before: number): Promise<void> {
  await until(page, `Number(document.body.dataset.renders ?? 0) > ${before}`);
}

/** Runs a test's steps; when one fails, the page as it was is saved next to the screenshots. */
function withEvidence(name: string, page: () => Page, steps: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await steps();
    } catch (error) {
      await screenshot(page(), `failed-${name}.png`).catch(() => undefined);
      throw error;
    }
  };
}

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The boxes of several elements, measured in one turn of the page's event loop. Not one
 * locator.boundingBox() each: events keep redrawing the picture (it is set as a whole), and an
 * element replaced between being found and being measured gives null. A horizontal line is also
 * zero pixels high, which Playwright calls invisible (null) too.
 */
async function boxesOf(page: Page, selectors: string[], timeoutMs = 10_000): Promise<Rect[]> {
  const expression = `(() => {
    const rects = ${JSON.stringify(selectors)}.map((s) => document.querySelector(s)?.getBoundingClientRect());
    return rects.every(Boolean) ? rects.map((r) => ({ x: r.x, y: r.y, width: r.width, height: r.height })) : null;
  })()`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rects = (await page.evaluate(expression)) as Rect[] | null;
    if (rects) return rects;
    if (Date.now() > deadline)
      throw new Error(`not all drawn after ${timeoutMs} ms: ${selectors.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function renders(page: Page): Promise<number> {
  return Number(await page.evaluate('document.body.dataset.renders ?? 0'));
}

describe('topology page', { skip: skipReason() }, () => {
  const cleanup = new Cleanup();
  const token = `tok-${tag(8)}`;
  const label = `tpv${tag()}`;
  const msLabel = `nolabel-${tag()}`;
  let agent: AgentProcess;
  let pair: SeedPair;
  let browser: Browser;
  let page: Page;
  const msKey = configKey(label, 'interface', 'ms-eth0');
  const msPeerKey = configKey(label, 'interface', 'ms-host');

  before(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'netns-browser-'));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    pair = seedPair(label, 'tpv');
    cleanup.add(() => deleteNamespaces(pair.ns1, pair.ns2));
    agent = await AgentProcess.start({ label, store: path.join(dir, 'store.db'), token });
    cleanup.add(() => agent.stop());
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    cleanup.add(() => browser.close());
    page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    page.on('pageerror', (error) => console.log(`page error: ${error.message}`));
    page.on('requestfailed', (r) => console.log(`page request failed: ${r.url()} ${r.failure()?.errorText}`));
  });
  after(() => cleanup.run());

  test('the page and its files are served by the agent without a token, small, with nothing from elsewhere', async () => {
    const index = await agent.request('GET', '/', undefined, null);
    assert.equal(index.status, 200);
    assert.match(String(index.headers['content-type']), /text\/html/);
    assert.match(String(index.headers['content-security-policy']), /default-src 'self'/);
    const assets = [...index.text.matchAll(/(?:href|src)="([^"]+)"/g)]
      .map((m) => m[1]!)
      .filter((u) => u !== 'data:,');
    assert.ok(assets.includes('/ui/client/main.js') && assets.includes('/ui/style.css'), assets.join(' '));
    let total = index.text.length;
    for (const asset of [
      '/ui/style.css',
      '/ui/client/main.js',
      '/ui/client/layout.js',
      '/ui/client/render.js',
    ]) {
      const r = await agent.request('GET', asset, undefined, null);
      assert.equal(r.status, 200, asset);
      assert.doesNotMatch(r.text, /https?:\/\/(?!www\.w3\.org)/, `${asset} loads nothing from elsewhere`);
      total += r.text.length;
    }
    assert.ok(total < 200_000, `page files: ${total} bytes`);
    assert.equal((await agent.request('GET', '/ui/nope.js', undefined, null)).status, 404);
    assert.equal((await agent.request('GET', '/v1/topology', undefined, null)).status, 401);
    assert.equal((await agent.request('GET', '/v1/topology')).status, 200);
  });

  test(
    'shows the namespaces, the VETH pair between them and the pending microservice item with its reason',
    withEvidence(
      'seeds',
      () => page,
      async () => {
        await agent.json('PUT', `/v1/config${pair.key1}`, JSON.stringify(pair.veth1));
        await agent.json('PUT', `/v1/config${pair.key2}`, JSON.stringify(pair.veth2));
        const msValue = {
          name: 'ms-eth0',
          type: 'VETH',
          enabled: true,
          ip_addresses: ['10.200.0.2/30'],
          namespace: { type: 'MICROSERVICE_REF_NS', microservice: msLabel },
          veth: { peer_if_name: 'ms-host' },
        };
        const msPeer = {
          name: 'ms-host',
          type: 'VETH',
          enabled: true,
          ip_addresses: ['10.200.0.1/30'],
          namespace: { type: 'NAMED_NS', name: pair.ns1 },
          veth: { peer_if_name: 'ms-eth0' },
        };
        await agent.json('PUT', `/v1/config${msKey}`, JSON.stringify(msValue));
        await agent.json('PUT', `/v1/config${msPeerKey}`, JSON.stringify(msPeer));
        await agent.until([pair.key1, pair.key2], 'configured');
        await agent.until([msKey, msPeerKey], 'pending');

        await page.goto(`${agent.server}/`);
        // The agent wants a token: the page asks for it and keeps it in the tab.
        await page.locator('#token-input').waitFor();
        await page.fill('#token-input', token);
        await page.press('#token-input', 'Enter');

        const ns1 = page.locator(`[data-ns="named/${pair.ns1}"]`);
        const ns2 = page.locator(`[data-ns="named/${pair.ns2}"]`);
        const ms = page.locator(`[data-ns="microservice/${msLabel}"]`);
        await ns1.waitFor();
        await ns2.waitFor();
        await ms.waitFor();
        assert.match((await ns1.locator('.ns-title').textContent()) ?? '', new RegExp(`named ${pair.ns1}`));
        assert.match(
          (await ms.locator('.ns-title').textContent()) ?? '',
          new RegExp(`microservice ${msLabel}`),
        );

        // The pair: one line between veth1's row in ns1 and veth2's row in ns2, configured.
        const line = page.locator(`.link[data-pairs="${[pair.key1, pair.key2].join(' ')}"]`);
        await line.waitFor();
        assert.match((await line.getAttribute('class')) ?? '', /state-configured/);
        const [box1, box2, lineBox] = (await boxesOf(page, [
          `[data-ns="named/${pair.ns1}"]`,
          `[data-ns="named/${pair.ns2}"]`,
          `.link[data-pairs="${[pair.key1, pair.key2].join(' ')}"]`,
        ])) as [Rect, Rect, Rect];
        const [left, right] = box1.x < box2.x ? [box1, box2] : [box2, box1];
        assert.ok(
          Math.abs(lineBox.x - (left.x + left.width)) < 8 &&
            Math.abs(lineBox.x + lineBox.width - right.x) < 8,
          `the line joins the boxes: ${JSON.stringify({ left, right, lineBox })}`,
        );
        assert.equal(
          await page.locator(`[data-key="${pair.key1}"]`).getAttribute('data-state'),
          'configured',
        );
        assert.match(await rowText(page, pair.key1), /veth1Name.*192\.168\.22\.1\/24/);

        // The microservice item: pending, with its reason in words.
        const msRow = page.locator(`[data-key="${msKey}"]`);
        assert.equal(await msRow.getAttribute('data-state'), 'pending');
        assert.match(await rowText(page, msKey), new RegExp(`pending: waiting for microservice ${msLabel}`));
        assert.ok(
          await page.locator(`.link[data-pairs="${[msKey, msPeerKey].join(' ')}"].state-pending`).count(),
        );
        await screenshot(page, 'topology.png');
      },
    ),
  );

  test(
    'clicking an item shows its config, its kernel view and its last transactions',
    withEvidence(
      'panel',
      () => page,
      async () => {
        await page.locator(`[data-key="${pair.key1}"] .row-bg`).click();
        const panel = page.locator('#panel');
        await panel.waitFor();
        await until(page, `!document.querySelector('#panel').textContent.includes('loading')`);
        const text = (await panel.textContent()) ?? '';
        assert.match(text, /interface veth1/);
        assert.match(text, /Config[\s\S]*"host_if_name": "veth1Name"/);
        assert.match(text, /Kernel[\s\S]*"name": "veth1Name"[\s\S]*192\.168\.22\.1/);
        assert.match(text, /Last transactions[\s\S]*#\d+/);
        assert.equal(await page.locator(`[data-key="${pair.key1}"].selected`).count(), 1);
      },
    ),
  );

  test(
    'follows changes live: one side deleted, the other goes pending without a reload',
    withEvidence(
      'live',
      () => page,
      async () => {
        await page.evaluate('window.__sameDocument = true');
        const before = await renders(page);
        await agent.json('DELETE', `/v1/config${pair.key2}`);
        await page.locator(`[data-key="${pair.key1}"][data-state="pending"]`).waitFor({ timeout: 10_000 });
        await renderedAfter(page, before);
        assert.equal(await page.evaluate('window.__sameDocument === true'), true, 'no reload');
        assert.match(await rowText(page, pair.key1), /pending: waiting for VETH peer veth2/);
        assert.equal(await page.locator(`[data-key="${pair.key2}"]`).count(), 0);
        assert.equal(await page.locator(`.link[data-pairs*="${pair.key1}"]`).count(), 0);
        // The open side panel follows its item's state too.
        await until(page, `document.querySelector('#panel .state-line')?.textContent.includes('pending')`);
      },
    ),
  );

  test(
    'a pasted plan is drawn on the topology: created, changed, pending, without changing anything',
    withEvidence(
      'plan',
      () => page,
      async () => {
        const document = [
          'kind: interface',
          'name: veth2',
          'value:',
          `  ${JSON.stringify(pair.veth2)}`,
          '---',
          'kind: interface',
          'name: veth1',
          'value:',
          `  ${JSON.stringify({ ...pair.veth1, mtu: 1400 })}`,
        ].join('\n');
        await page.click('#plan-open');
        await page.fill('#plan-text', document);
        await page.click('#plan-run');
        await page.locator('#plan-banner:not([hidden])').waitFor();
        await page.locator(`[data-key="${pair.key2}"].change-create`).waitFor();
        assert.match(
          (await page.locator(`[data-key="${pair.key1}"]`).getAttribute('class')) ?? '',
          /change-/,
        );
        assert.match(
          (await page.locator('#plan-result').textContent()) ?? '',
          /created[\s\S]*interface\/veth2/,
        );
        assert.ok(
          await page.locator(`.link[data-pairs="${[pair.key1, pair.key2].join(' ')}"]`).count(),
          'the planned pair is drawn',
        );
        assert.match((await page.locator('#plan-counts').textContent()) ?? '', /created/);
        await screenshot(page, 'topology-plan.png');
        assert.equal(
          (await agent.request('GET', `/v1/config${pair.key2}`)).status,
          404,
          'the plan stored nothing',
        );
        await page.click('#plan-exit');
        // Every mark of the plan goes (how many there are depends on what the earlier tests left:
        // veth1 pending, its peer's namespace gone, and so on).
        await until(page, `document.querySelectorAll('[class*="change-"]').length === 0`);
      },
    ),
  );

  test('a W1-sized topology (51 namespaces, 2000 interfaces) is drawn collapsed, searchable and expandable', async () => {
    const w1 = w1Topology(label);
    const w1Page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    try {
      await w1Page.addInitScript(`sessionStorage.setItem('netns-agent-token', ${JSON.stringify(token)})`);
      await w1Page.route('**/v1/topology', (route) => route.fulfill({ json: w1 }));
      await w1Page.goto(`${agent.server}/`);
      await w1Page.locator('.ns').first().waitFor();
      assert.equal(await w1Page.locator('.ns').count(), 51);
      assert.equal(await w1Page.locator('.ns.collapsed').count(), 51, 'large: every box starts collapsed');
      const bundles = w1Page.locator('.link.bundled');
      assert.equal(await bundles.count(), 50, 'one line per namespace pair');
      assert.equal(await bundles.first().locator('.link-count').textContent(), '20');
      console.log(`W1 drawn in ${await w1Page.evaluate('document.body.dataset.renderMs')} ms`);
      await screenshot(w1Page, 'topology-w1.png');

      // Search opens the box with what it finds and shows just that.
      let before = await renders(w1Page);
      await w1Page.fill('#search', '10.3.28.2');
      await renderedAfter(w1Page, before);
      const found = w1Page.locator('.row.match');
      assert.equal(await found.count(), 1);
      assert.equal(
        await found.getAttribute('data-key'),
        `/vnf-agent/${label}/linux/config/v1/interface/b199`,
      );
      assert.equal(await w1Page.locator('.ns:not(.dim)').count(), 1);
      await w1Page.press('#search', 'Enter');
      await screenshot(w1Page, 'topology-w1-search.png');

      // Expand all: every box gets its rows (at most 150 each) and pairs are drawn one by one; only
      // rows in sight get drawn, and zoomed out they are bars without text.
      before = await renders(w1Page);
      await w1Page.fill('#search', '');
      await renderedAfter(w1Page, before);
      before = await renders(w1Page);
      await w1Page.click('#expand-all');
      await renderedAfter(w1Page, before);
      assert.equal(await w1Page.locator('.ns.collapsed').count(), 0);
      assert.equal(await w1Page.evaluate('document.body.dataset.rows'), String(150 + 50 * 20));
      // fit() redraws on the next animation frame: the rows drawn before it still have text.
      await w1Page.click('#zoom-fit');
      await until(
        w1Page,
        `document.querySelectorAll('.row').length > 0 && document.querySelectorAll('.row text').length === 0`,
      );
      console.log(`W1 expanded drawn in ${await w1Page.evaluate('document.body.dataset.renderMs')} ms`);
      await screenshot(w1Page, 'topology-w1-expanded.png');
      // Zoomed in on the hub: its rows get their text again.
      before = await renders(w1Page);
      await w1Page.fill('#search', 'a0');
      await w1Page.press('#search', 'Enter');
      await renderedAfter(w1Page, before);
      assert.ok((await w1Page.locator('.row.match text').count()) > 0);
      // Wheel zoom and drag pan move the view.
      const viewBox = await w1Page.locator('#canvas').getAttribute('viewBox');
      await w1Page.click('#zoom-in');
      await w1Page.mouse.move(800, 500);
      await w1Page.mouse.wheel(0, -300);
      await w1Page.mouse.down();
      await w1Page.mouse.move(600, 400);
      await w1Page.mouse.up();
      assert.notEqual(await w1Page.locator('#canvas').getAttribute('viewBox'), viewBox);
    } finally {
      await w1Page.close();
    }
  });
});
