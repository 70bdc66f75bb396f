export * from './catch-up-budget';
export * from './channel';
export * from './outgoing';
export * from './presence';
