/**
 * A runner stand-in the chaos test kills with SIGKILL: replays the recorded Claude Code run
 * (deterministic mapping) into a leased build through the ingest producer. With HOLD_AFTER, it
 * stops after that many recording lines once the server has acknowledged all of them, prints
 * `held at <ackedProducerSeq>` and waits for a line on stdin: the test kills it there, mid-build
 * by construction rather than by hoping the machine is slow. Its producer epoch comes from the
 * durable libSQL outbox, raised on every start; the server's `ready {ackedProducerSeq}` makes a
 * restart resend only what was not acknowledged.
 * Usage: producer-process.ts URL TOKEN BUILD_ID OUTBOX_FILE REPEATS [HOLD_AFTER]
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMapper, detectFormat, parseRecording } from '../../runner/src/agents';
import { fitEvent } from '../../runner/src/ingest/fit-event';
import { IngestProducer } from '../../runner/src/ingest/producer';
import { Outbox } from '../../runner/src/outbox';
import { ROOT } from '../../scripts/dev-stack.ts';

const [url, token, buildId, outboxFile, repeats = '1', holdAfter] = process.argv.slice(2);
if (!url || !token || !buildId || !outboxFile) throw new Error('usage: URL TOKEN BUILD OUTBOX');
const outbox = await Outbox.open(outboxFile);
const producerEpoch = await outbox.nextEpoch(buildId);
const producer = new IngestProducer({ url, token, buildId, producerEpoch });
const { lines } = parseRecording(
  readFileSync(
    join(ROOT, '..', 'shared', 'fixtures', 'recorded', 'claude-code-stream-json.jsonl'),
    'utf8',
  ),
);
const format = detectFormat(lines)!;
process.stdout.write(`epoch ${producerEpoch}\n`);
let sent = 0;
for (let r = 0; r < Number(repeats); r++) {
  const mapper = createMapper(format, { buildId, producerId: 'chaos', turnIdPrefix: `r${r}` });
  for (const line of lines) {
    producer.append(mapper.push(line).map(fitEvent));
    if (++sent === Number(holdAfter)) {
      await producer.flush();
      process.stdout.write(`held at ${producer.ackedProducerSeq}\n`);
      await once(process.stdin, 'data');
    }
  }
  producer.append(mapper.end().map(fitEvent));
}
await producer.flush();
await outbox.ack(buildId, producer.ackedProducerSeq);
process.stdout.write(`done ${producer.ackedProducerSeq}\n`);
producer.close();
outbox.close();
