// Launches Debian's Chromium (/usr/bin/chromium) through playwright-core.
// Without it the browser tests skip, except under CI=true, where they fail.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'

export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium'

/** Why the tests cannot run here, or '' when they can. */
export function missingBrowser() {
  if (existsSync(chromiumPath)) return ''
  const why = `${chromiumPath} is missing: apt-get install -y chromium`
  if (process.env.CI === 'true') throw new Error(why)
  return why
}

export async function launch(extraArgs = []) {
  const profile = mkdtempSync(join(tmpdir(), 'roost-chromium-'))
  // A persistent context on a fresh directory: a clean profile each run.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
    viewport: { width: 1280, height: 900 },
  })
  return {
    context,
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}
