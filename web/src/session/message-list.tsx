import type { MessageState, SessionState } from '@kiln/protocol';
import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, type RefObject, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { formatTime } from '../lib/format';
import { Markdown } from './markdown';
import { queuedMessageIds } from './session-composer';
import type { PendingSend, SessionSnapshot } from './store';
import { useLiveSnapshot, useSessionState } from './use-session';

const selectMessages = (state: SessionState) => state.messages;
const selectTurnCount = (state: SessionState) => state.turns.length;
const selectPending = (s: SessionSnapshot) => s.pendingSends;

/** Past this many messages the list renders only what is on screen. */
const VIRTUALIZE_MESSAGES_AFTER = 150;

/**
 * The conversation. Each message is memoised on its object, which the reducer replaces only when
 * an event touches it, so a streaming delta re-renders one message. Prompts not yet in the log
 * show as "sending", follow-ups waiting for the running turn as "queued". Keeps the view pinned to
 * the bottom while the person is there; a long conversation is virtualised.
 */
export function MessageList() {
  const messages = useSessionState(selectMessages);
  const turnCount = useSessionState(selectTurnCount);
  const pending = useLiveSnapshot(selectPending);
  const queued = useMemo(() => queuedMessageIds(messages, turnCount), [messages, turnCount]);
  const listRef = useRef<HTMLOListElement>(null);
  useFollowBottom(listRef, [messages, pending], messages.length + pending.length > 0);

  if (messages.length === 0 && pending.length === 0) {
    return (
      <div className="empty-state">
        <p className="muted">No messages yet. The conversation will stream in here.</p>
      </div>
    );
  }
  if (messages.length > VIRTUALIZE_MESSAGES_AFTER) {
    return <VirtualMessageList messages={messages} queued={queued} pending={pending} />;
  }
  return (
    <ol className="message-list" ref={listRef}>
      {messages.map((message) => (
        <MessageItem
          key={message.messageId}
          message={message}
          queued={queued.has(message.messageId)}
        />
      ))}
      <PendingItems pending={pending} />
    </ol>
  );
}

function PendingItems({ pending }: { pending: readonly PendingSend[] }) {
  return pending.map((p) => (
    <li
      key={p.clientMessageId}
      className="message message-user message-pending"
      data-testid="pending-message"
    >
      <div className="message-meta">
        <span className="message-author">You</span>
        <span className="tag tag-queued">sending</span>
      </div>
      <div className="message-text plain">{p.text}</div>
    </li>
  ));
}

function VirtualMessageList({
  messages,
  queued,
  pending,
}: {
  messages: readonly MessageState[];
  queued: ReadonlySet<string>;
  pending: readonly PendingSend[];
}) {
  const listRef = useRef<HTMLOListElement>(null);
  const [pane, setPane] = useState<HTMLElement | null>(null);
  useLayoutEffect(() => {
    setPane(listRef.current?.closest<HTMLElement>('[data-scroll-pane]') ?? null);
  }, []);
  const virtualizer = useVirtualizer({
    count: messages.length,
    getScrollElement: () => pane,
    estimateSize: () => 120,
    overscan: 8,
    scrollMargin: listRef.current?.offsetTop ?? 0,
    getItemKey: (i) => messages[i]?.messageId ?? i,
  });
  // Open at the latest message, as the short list does.
  const opened = useRef(false);
  useEffect(() => {
    if (!pane || opened.current) return;
    opened.current = true;
    virtualizer.scrollToIndex(messages.length - 1, { align: 'end' });
  }, [pane, virtualizer, messages.length]);

  const items = virtualizer.getVirtualItems();
  const offset = (items[0]?.start ?? 0) - virtualizer.options.scrollMargin;
  return (
    <ol
      className="message-list message-list-virtual"
      ref={listRef}
      style={{ height: virtualizer.getTotalSize(), position: 'relative' }}
      data-virtualized="true"
    >
      <div style={{ transform: `translateY(${offset}px)` }}>
        {items.map((item) => {
          const message = messages[item.index] as MessageState;
          return (
            <div key={item.key} data-index={item.index} ref={virtualizer.measureElement}>
              <MessageItem message={message} queued={queued.has(message.messageId)} />
            </div>
          );
        })}
      </div>
      <PendingItems pending={pending} />
    </ol>
  );
}

/** One user or assistant message. */
const MessageItem = memo(function MessageItem({
  message,
  queued = false,
}: {
  message: MessageState;
  queued?: boolean;
}) {
  const streaming = message.status === 'streaming';
  return (
    <li
      className={`message message-${message.role}`}
      data-testid="message"
      data-role={message.role}
      data-status={message.status}
      data-message-id={message.messageId}
      data-seq={message.seq}
      data-queued={queued || undefined}
    >
      <div className="message-meta">
        <span className="message-author">{message.role === 'user' ? 'You' : 'Agent'}</span>
        {queued && (
          <span className="tag tag-queued" title="Runs when the current turn ends">
            queued
          </span>
        )}
        <time dateTime={new Date(message.at).toISOString()}>{formatTime(message.at)}</time>
      </div>
      {message.reasoning && (
        <details className="reasoning">
          <summary>Reasoning</summary>
          <div className="reasoning-text">{message.reasoning}</div>
        </details>
      )}
      {message.role === 'user' ? (
        <div className="message-text plain">{message.text}</div>
      ) : message.text ? (
        <Markdown text={message.text} />
      ) : streaming ? null : (
        <p className="muted">(no text)</p>
      )}
      {streaming && <span className="typing" role="status" aria-label="Agent is writing" />}
    </li>
  );
});

/**
 * Keeps the enclosing scroll pane (`[data-scroll-pane]`, the conversation column on wide screens)
 * at its bottom as content grows, unless the person has scrolled up to read.
 */
function useFollowBottom(
  list: RefObject<HTMLElement | null>,
  content: unknown[],
  hasList: boolean,
) {
  const pinned = useRef(true);
  useEffect(() => {
    const pane = list.current?.closest<HTMLElement>('[data-scroll-pane]');
    if (!pane || !hasList) return;
    const onScroll = () => {
      pinned.current = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 120;
    };
    pane.addEventListener('scroll', onScroll, { passive: true });
    return () => pane.removeEventListener('scroll', onScroll);
  }, [list, hasList]);
  useLayoutEffect(() => {
    const pane = list.current?.closest<HTMLElement>('[data-scroll-pane]');
    if (pane && pinned.current && pane.scrollHeight > pane.clientHeight) {
      pane.scrollTop = pane.scrollHeight;
    }
  }, [...content, list]);
}
