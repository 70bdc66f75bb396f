/**
 * Child process: the Durable Streams reference server (`@durable-streams/server`), file-backed
 * when a data dir is given (LMDB metadata + log files) so its appends are durable and it can be
 * restarted cold. Prints its URL on stdout once listening. Usage: ds-server.ts PORT [DATA_DIR]
 */
import { DurableStreamTestServer } from '@durable-streams/server';

const [port, dataDir] = process.argv.slice(2);
const server = new DurableStreamTestServer({
  port: Number(port),
  host: '127.0.0.1',
  ...(dataDir ? { dataDir } : {}),
  // No gzip, so the bytes on the wire are comparable with the other systems' uncompressed frames.
  compression: false,
});
const url = await server.start();
process.stdout.write(`${url}\n`);
process.on('SIGTERM', () => {
  void server.stop().finally(() => process.exit(0));
});
