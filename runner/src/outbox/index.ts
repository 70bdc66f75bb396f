export { Outbox, type OutboxEntry, type PendingBuild } from './outbox';
