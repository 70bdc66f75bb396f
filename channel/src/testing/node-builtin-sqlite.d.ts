/**
 * The part of Node's built-in `node:sqlite` (Node 22) the tests use. Declared here because this
 * package compiles without Node's types: nothing outside the tests may depend on Node.
 */
declare module 'node:sqlite' {
  export class StatementSync {
    all(...params: (string | number | null)[]): Record<string, string | number | null>[];
  }
  export class DatabaseSync {
    constructor(path: string);
    exec(sql: string): void;
    prepare(sql: string): StatementSync;
    close(): void;
  }
}
