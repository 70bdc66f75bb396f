/**
 * Where every turn id comes from (PROTOCOL.md, glossary "turn"). A turn id is opaque to every
 * reader; it only has to be unique within its session.
 */

/** A live turn: the runner hub mints one when it dispatches a person's message (a UUID). */
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
