/**
 * Where every turn id and user message id comes from (PROTOCOL.md, glossary). Ids are opaque to
 * every reader; they only have to be unique within their session.
 */

/** A live turn's id (a UUID): the runner hub mints one each time it offers a turn to a runner. */
export function newTurnId(): string {
  return crypto.randomUUID();
}

/**
 * The `index`-th turn (1-based) of a recorded run: `<key>:<index>`, where `key` is the id the
 * recording gives its session or thread, or the caller's prefix when it names none (e.g. a live
 * turn's id, so that the turns a CLI reports inside it stay distinct across turns).
 */
export function recordedTurnId(key: string, index: number): string {
  return `${key}:${index}`;
}

/**
 * The `messageId` of the `user-message` a `send` or `POST …/messages` appends: derived from the
 * client's `clientMessageId`, so that a retry names the same message (idempotence).
 */
export function userMessageId(clientMessageId: string): string {
  return `msg_${clientMessageId}`;
}
