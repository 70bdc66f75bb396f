import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveServerConfig } from './server-config';

function checkoutWithDevJson(config: unknown): string {
  const root = mkdtempSync(join(tmpdir(), 'kiln-config-'));
  mkdirSync(join(root, '.kiln'));
  writeFileSync(join(root, '.kiln', 'dev.json'), JSON.stringify(config));
  const nested = join(root, 'runner', 'src');
  mkdirSync(nested, { recursive: true });
  return nested;
}

describe('resolveServerConfig', () => {
  const dev = { server: 'http://localhost:8787/', token: 'dev-token', projectId: 'p1' };

  it('reads .kiln/dev.json from a parent directory', () => {
    expect(resolveServerConfig({}, {}, checkoutWithDevJson(dev))).toEqual({
      server: 'http://localhost:8787',
      token: 'dev-token',
      projectId: 'p1',
    });
  });

  it('lets env override dev.json and flags override env', () => {
    const cwd = checkoutWithDevJson(dev);
    const env = { KILN_SERVER: 'https://kiln.example', KILN_TOKEN: 'env-token' };
    expect(resolveServerConfig({}, env, cwd)).toMatchObject({
      server: 'https://kiln.example',
      token: 'env-token',
    });
    expect(resolveServerConfig({ token: 'flag-token' }, env, cwd)).toMatchObject({
      token: 'flag-token',
    });
  });

  it('says what is missing when nothing names a server or token', () => {
    const empty = mkdtempSync(join(tmpdir(), 'kiln-none-'));
    expect(() => resolveServerConfig({}, {}, empty)).toThrow(ConfigError);
    expect(() => resolveServerConfig({ server: 'http://x' }, {}, empty)).toThrow(/no token/);
  });
});
