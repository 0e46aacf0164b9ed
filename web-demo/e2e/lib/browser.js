// Debian's Chromium driven by playwright-core: never a downloaded browser, a fresh profile per
// launch, and nothing that phones home.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * A browser context on a fresh profile directory (passed as --user-data-dir by Playwright).
 * Pages of one context share localStorage, like tabs of one browser. `close()` removes the
 * profile.
 */
export async function launch({ viewport = { width: 1280, height: 800 } } = {}) {
  const profile = await mkdtemp(join(tmpdir(), 'agentwire-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport,
    colorScheme: 'light',
    locale: 'en-GB',
  });
  context.setDefaultTimeout(15_000);
  const close = async () => {
    await context.close().catch(() => {});
    await rm(profile, { recursive: true, force: true });
  };
  return { context, close };
}

/** Fails the test on any uncaught page error or console error (CSP violations included). */
export function watchErrors(page, errors = []) {
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    // A refused or cut WebSocket is part of the reconnect tests, not a page bug.
    if (/WebSocket connection to .* failed/.test(text)) return;
    errors.push(`console: ${text}`);
  });
  return errors;
}
