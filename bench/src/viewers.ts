/**
 * The bench's audience: `count` distinct people, each a viewer of the dev project with a personal
 * access token of their own, written into the bench's local D1 (hashes only, as the worker
 * stores them). A watching crowd is many people, and the worker allows one person at most
 * `MAX_SOCKETS_PER_PRINCIPAL` sockets per object, so the latency rows with 100 or 1,000
 * subscribers give each subscriber its own viewer rather than lifting that cap.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { queryLocalD1 } from '../../scripts/dev-stack.ts';

/** Rows per `wrangler d1 execute` (one command line stays well under the OS's argument limit). */
const PER_BATCH = 100;

/** Creates `count` viewers of `projectId` and returns their tokens. */
export async function seedViewers(
  persistTo: string,
  projectId: string,
  count: number,
): Promise<string[]> {
  const tokens: string[] = [];
  const now = Date.now();
  for (let from = 0; from < count; from += PER_BATCH) {
    const statements: string[] = [];
    for (let i = from; i < Math.min(count, from + PER_BATCH); i++) {
      const userId = randomUUID();
      const token = `kiln_pat_${randomBytes(32).toString('base64url')}`;
      const hash = createHash('sha256').update(token).digest('hex');
      tokens.push(token);
      statements.push(
        `INSERT INTO users (id, email, name, created_at) VALUES ('${userId}', 'viewer-${userId}@bench.local', 'Viewer ${i}', ${now})`,
        `INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES ('${randomUUID()}', '${userId}', 'bench', '${hash}', ${now})`,
        `INSERT INTO project_members (project_id, user_id, role, created_at) VALUES ('${projectId}', '${userId}', 'viewer', ${now})`,
      );
    }
    await queryLocalD1(persistTo, statements.join('; '));
  }
  return tokens;
}
