import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (test/prerequisites.ts installs it). */
export const CHROMIUM = '/usr/bin/chromium';

/** Chromium as root, headless, with nothing that phones home (this machine has no internet). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
