/**
 * Test helper run as a child process (`node --import tsx outbox-writer.fixture.ts FILE BUILD`):
 * appends batches of 1–5 events to the outbox forever, printing each batch's last producer seq
 * after `append` resolved. The test kills it with SIGKILL mid-loop.
 */
import { Outbox } from './outbox';

const [file, buildId] = process.argv.slice(2);
if (!file || !buildId) throw new Error('usage: outbox-writer.fixture.ts FILE BUILD');
const outbox = await Outbox.open(file);
const epoch = await outbox.nextEpoch(buildId);
process.stdout.write(`epoch ${epoch}\n`);
for (let batch = 0; ; batch++) {
  const size = (batch % 5) + 1;
  const events = Array.from({ length: size }, (_, i) => ({
    type: 'text-delta' as const,
    messageId: 'm1',
    delta: `batch ${batch} event ${i} `.repeat(8),
  }));
  const seqs = await outbox.append(buildId, events);
  process.stdout.write(`${seqs.at(-1)}\n`);
}
