import type { SessionState } from '@kiln/protocol';
import { formatCost, formatTokens } from '../lib/format';
import { useSessionState } from './use-session';

const selectUsage = (state: SessionState) => state.usage;

/** Token and cost totals of the whole session. */
export function UsagePanel() {
  const usage = useSessionState(selectUsage);
  const rows = [
    ['Input', formatTokens(usage.inputTokens)],
    ['Output', formatTokens(usage.outputTokens)],
    ['Cache read', formatTokens(usage.cacheReadTokens)],
    ['Cache write', formatTokens(usage.cacheWriteTokens)],
    ...(usage.reasoningTokens > 0 ? [['Reasoning', formatTokens(usage.reasoningTokens)]] : []),
    ['Cost', formatCost(usage.costUsd)],
  ];
  return (
    <section className="panel" aria-labelledby="usage-heading">
      <header className="panel-header">
        <h2 id="usage-heading">Usage</h2>
      </header>
      <dl className="stats" data-testid="usage">
        {rows.map(([label, value]) => (
          <div className="stat" key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
