import type { MessageState, SessionState } from '@kiln/protocol';
import { memo, type RefObject, useEffect, useLayoutEffect, useRef } from 'react';
import { formatTime } from '../lib/format';
import { Markdown } from './markdown';
import { useSessionState } from './use-session';

const selectMessages = (state: SessionState) => state.messages;

/**
 * The conversation. Each message is memoised on its object, which the reducer replaces only when
 * an event touches it, so a streaming delta re-renders one message. Keeps the view pinned to the
 * bottom while the person is there.
 */
export function MessageList() {
  const messages = useSessionState(selectMessages);
  const listRef = useRef<HTMLOListElement>(null);
  useFollowBottom(listRef, messages, messages.length > 0);

  if (messages.length === 0) {
    return <p className="muted empty">No messages yet.</p>;
  }
  return (
    <ol className="message-list" ref={listRef}>
      {messages.map((message) => (
        <MessageItem key={message.messageId} message={message} />
      ))}
    </ol>
  );
}

/** One user or assistant message. */
export const MessageItem = memo(function MessageItem({ message }: { message: MessageState }) {
  const streaming = message.status === 'streaming';
  return (
    <li
      className={`message message-${message.role}`}
      data-testid="message"
      data-role={message.role}
      data-status={message.status}
    >
      <div className="message-meta">
        <span className="message-author">{message.role === 'user' ? 'You' : 'Agent'}</span>
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
function useFollowBottom(list: RefObject<HTMLElement | null>, content: unknown, hasList: boolean) {
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
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when the content changes
  useLayoutEffect(() => {
    const pane = list.current?.closest<HTMLElement>('[data-scroll-pane]');
    if (pane && pinned.current && pane.scrollHeight > pane.clientHeight) {
      pane.scrollTop = pane.scrollHeight;
    }
  }, [content, list]);
}
