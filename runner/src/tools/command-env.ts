import os from 'node:os';
import path from 'node:path';

/** Variables passed through to commands (when set and not secret-looking). */
const PASSED_THROUGH = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TERM', 'TZ', 'NODE_ENV'] as const;
/** Names that look like credentials; never passed, whatever the allow-list says. */
const SECRET_NAME = /KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH/i;

/**
 * The environment of a `run_command` child: only an allow-list of the runner's variables (PATH,
 * LANG, LC_ALL, LC_CTYPE, TERM, TZ, NODE_ENV), `HOME` set to the workspace, npm's cache kept out of
 * the workspace, and nothing whose name matches KEY/TOKEN/SECRET/PASSWORD/CREDENTIAL/AUTH.
 */
export function commandEnv(
  workspace: string,
  source: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of PASSED_THROUGH) {
    const value = source[name];
    if (value !== undefined && !SECRET_NAME.test(name)) env[name] = value;
  }
  env.HOME = workspace;
  // `npm run build` would otherwise create $HOME/.npm (logs, cache) inside the workspace.
  env.npm_config_cache = path.join(os.tmpdir(), 'kiln-npm-cache');
  env.npm_config_update_notifier = 'false';
  env.npm_config_fund = 'false';
  return env;
}
