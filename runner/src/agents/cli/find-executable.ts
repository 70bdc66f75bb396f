import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

/** The absolute path of `name` on `PATH` (as a shell would find it), or undefined. */
export function findExecutable(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not there or not executable: try the next directory.
    }
  }
  return undefined;
}
