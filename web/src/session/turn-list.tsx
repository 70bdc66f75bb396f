import type { SessionState, TurnState } from '@kiln/protocol';
import { memo } from 'react';
import { formatCost, formatDuration, formatTime, formatTokens } from '../lib/format';
import { useSessionState } from './use-session';

const selectTurns = (state: SessionState) => state.turns;

/** The session's turns: status, agent and model, duration, tokens and cost. */
export function TurnList() {
  const turns = useSessionState(selectTurns);
  if (turns.length === 0) return null;
  return (
    <section className="panel" aria-labelledby="turns-heading">
      <header className="panel-header">
        <h2 id="turns-heading">Turns</h2>
        <span className="count">{turns.length}</span>
      </header>
      <ol className="turn-list">
        {turns.map((turn, i) => (
          <TurnItem key={turn.turnId} turn={turn} number={i + 1} />
        ))}
      </ol>
    </section>
  );
}

const TurnItem = memo(function TurnItem({ turn, number }: { turn: TurnState; number: number }) {
  const tokens = turn.usage.inputTokens + turn.usage.outputTokens;
  return (
    <li className="turn" data-testid="turn" data-status={turn.status}>
      <div className="turn-head">
        <span className="turn-number">Turn {number}</span>
        <span className={`badge badge-${turn.status}`}>{turn.status}</span>
        <span className="muted turn-time">{formatTime(turn.startedAt)}</span>
      </div>
      <div className="turn-meta muted">
        <span>
          {turn.agent}
          {turn.model ? ` · ${turn.model}` : ''}
        </span>
        {turn.durationMs !== undefined && <span>{formatDuration(turn.durationMs)}</span>}
        {tokens > 0 && <span>{formatTokens(tokens)} tokens</span>}
        {turn.usage.costUsd > 0 && <span>{formatCost(turn.usage.costUsd)}</span>}
      </div>
      {turn.error && <p className="turn-error">{turn.error}</p>}
    </li>
  );
});
