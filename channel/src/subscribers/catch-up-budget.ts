import { CATCH_UP_BURST_BYTES, CATCH_UP_BYTES_PER_SECOND } from '@kiln/protocol';

/**
 * A subscriber socket's catch-up byte budget (PROTOCOL.md, security): a token bucket of
 * `CATCH_UP_BURST_BYTES`, refilled at `CATCH_UP_BYTES_PER_SECOND`. A `hello` is answered only
 * while the balance is above zero, and what its catch-up sent (characters of JSON text, which is
 * bytes for ASCII) is taken from it, so the balance may go below zero after a big snapshot. Plain
 * data, so it lives in the socket's attachment and survives hibernation.
 */
export interface CatchUpBudget {
  balance: number;
  /** ms epoch of the last refill. */
  at: number;
}

/** The budget refilled up to `now`. */
function refill(budget: CatchUpBudget | undefined, now: number): CatchUpBudget {
  if (!budget) return { balance: CATCH_UP_BURST_BYTES, at: now };
  const earned = (Math.max(0, now - budget.at) / 1000) * CATCH_UP_BYTES_PER_SECOND;
  return { balance: Math.min(CATCH_UP_BURST_BYTES, budget.balance + earned), at: now };
}

/** Whether a catch-up may run now, and the budget after refilling. */
export function mayCatchUp(
  budget: CatchUpBudget | undefined,
  now: number,
): { allowed: boolean; budget: CatchUpBudget } {
  const refilled = refill(budget, now);
  return { allowed: refilled.balance > 0, budget: refilled };
}

/** The budget after a catch-up that sent `sent` characters. */
export function spend(budget: CatchUpBudget, sent: number): CatchUpBudget {
  return { ...budget, balance: budget.balance - sent };
}

/** The refusal text: how long until the budget is positive again. */
export function budgetRefusal(budget: CatchUpBudget): string {
  const waitS = Math.ceil((-budget.balance + 1) / CATCH_UP_BYTES_PER_SECOND);
  return `catch-up is limited to ${CATCH_UP_BYTES_PER_SECOND} bytes per second per socket; send hello again in ${waitS} s`;
}
