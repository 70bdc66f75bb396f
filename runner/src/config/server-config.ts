import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';

/** `.kiln/dev.json`, written by `pnpm dev` for the local stack. */
const devConfig = z.object({
  server: z.string().optional(),
  token: z.string().optional(),
  projectId: z.string().optional(),
  email: z.string().optional(),
  password: z.string().optional(),
});
type DevConfig = z.infer<typeof devConfig>;

/** Thrown when the CLI cannot tell which server to use or as whom; the message says how to fix it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The nearest `.kiln/dev.json` from `cwd` up to the filesystem root, parsed; null if none. */
function findDevConfig(cwd: string): { path: string; config: DevConfig } | null {
  let dir = cwd;
  for (;;) {
    const path = join(dir, '.kiln', 'dev.json');
    if (existsSync(path)) {
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(path, 'utf8'));
      } catch (cause) {
        throw new ConfigError(`${path} is not valid JSON`, { cause });
      }
      const parsed = devConfig.safeParse(json);
      if (!parsed.success) throw new ConfigError(`${path}: ${z.prettifyError(parsed.error)}`);
      return { path, config: parsed.data };
    }
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** Where the CLI talks to, resolved from flags, then KILN_SERVER/KILN_TOKEN, then dev.json. */
export interface ServerConfig {
  server: string;
  token: string;
  /** From dev.json, when there is one. */
  projectId?: string;
}

/**
 * Resolves `--server`/`--token` (flags win, then env KILN_SERVER/KILN_TOKEN, then
 * `.kiln/dev.json`). Errors: `ConfigError` naming what is missing and where it can come from.
 */
export function resolveServerConfig(
  flags: { server?: string; token?: string },
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): ServerConfig {
  const dev = findDevConfig(cwd)?.config;
  const server = flags.server ?? env.KILN_SERVER ?? dev?.server;
  const token = flags.token ?? env.KILN_TOKEN ?? dev?.token;
  const missing = [server ? null : 'server', token ? null : 'token'].filter(Boolean);
  if (!server || !token) {
    throw new ConfigError(
      `no ${missing.join(' or ')}: pass --server/--token, set KILN_SERVER/KILN_TOKEN, or run \`pnpm dev\` to write .kiln/dev.json`,
    );
  }
  if (!/^https?:\/\//.test(server))
    throw new ConfigError(`--server must be an http(s) URL, got ${server}`);
  return {
    server: server.replace(/\/+$/, ''),
    token,
    ...(dev?.projectId ? { projectId: dev.projectId } : {}),
  };
}
