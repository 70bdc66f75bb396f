import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { SecretOnce } from './secret-once';

/** What one kind of token (personal access tokens, runner tokens) needs from the API. */
export interface TokenApi<T> {
  /** Lists the caller's tokens. */
  load: (signal?: AbortSignal) => Promise<T[]>;
  /** Creates one named token; the answer's `token` is its secret, shown once. */
  create: (name: string) => Promise<{ token: string }>;
  /** Revokes one. */
  revoke: (item: T) => Promise<void>;
  /** Shown in the confirmation after "Revoke “name”?", e.g. what stops working. */
  revokeWarning: string;
  /** Reloads the list this often (ms) while mounted; once when absent. */
  refreshEveryMs?: number;
}

/**
 * The state of a token list: the tokens (`null` while loading), the last error, the secret of
 * the token just created, and the create / revoke actions (revoke asks for confirmation first).
 * Every action reloads the list; a failed one sets `error` instead of throwing (`create` then
 * resolves false). Pass an `api` that keeps its identity across renders (a module constant).
 */
export function useTokens<T extends { name: string }>(api: TokenApi<T>) {
  const { load, create, revoke, revokeWarning, refreshEveryMs } = api;
  const [items, setItems] = useState<T[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [secret, setSecret] = useState<string | null>(null);

  const refresh = useCallback(
    async (signal?: AbortSignal) => {
      try {
        setItems(await load(signal));
        setError(null);
      } catch (caught) {
        if (!signal?.aborted) setError(messageOf(caught, 'Failed'));
      }
    },
    [load],
  );

  useEffect(() => {
    const abort = new AbortController();
    void refresh(abort.signal);
    const timer =
      refreshEveryMs === undefined
        ? undefined
        : setInterval(() => void refresh(abort.signal), refreshEveryMs);
    return () => {
      abort.abort();
      clearInterval(timer);
    };
  }, [refresh, refreshEveryMs]);

  async function onCreate(name: string): Promise<boolean> {
    try {
      setSecret((await create(name)).token);
    } catch (caught) {
      setError(messageOf(caught, 'Could not create the token'));
      return false;
    }
    await refresh();
    return true;
  }

  async function onRevoke(item: T): Promise<void> {
    if (!window.confirm(`Revoke “${item.name}”? ${revokeWarning}`)) return;
    try {
      await revoke(item);
      await refresh();
    } catch (caught) {
      setError(messageOf(caught, 'Could not revoke'));
    }
  }

  return {
    items,
    error,
    secret,
    dismissSecret: () => setSecret(null),
    create: onCreate,
    revoke: onRevoke,
  };
}

/** The form that names and creates a token, with the new secret above it once created. */
export function NewTokenForm({
  label,
  placeholder,
  secret,
  onCreate,
  onDismissSecret,
}: {
  label: string;
  placeholder: string;
  secret: string | null;
  /** Resolves true once created (the field is then cleared). */
  onCreate: (name: string) => Promise<boolean>;
  onDismissSecret: () => void;
}) {
  const [name, setName] = useState('');
  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const trimmed = name.trim();
    if (!trimmed) return;
    if (await onCreate(trimmed)) setName('');
  }
  return (
    <>
      {secret && <SecretOnce secret={secret} onDone={onDismissSecret} />}
      <form className="inline-form" onSubmit={submit}>
        <label className="field">
          <span>{label}</span>
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder={placeholder} />
        </label>
        <button type="submit" className="button button-primary" disabled={!name.trim()}>
          Create token
        </button>
      </form>
    </>
  );
}

/** The revoke button of one token row. */
export function RevokeButton({ name, onRevoke }: { name: string; onRevoke: () => void }) {
  return (
    <button
      type="button"
      className="button button-small button-danger"
      onClick={onRevoke}
      aria-label={`Revoke ${name}`}
    >
      Revoke
    </button>
  );
}

function messageOf(caught: unknown, fallback: string): string {
  return caught instanceof Error ? caught.message : fallback;
}
