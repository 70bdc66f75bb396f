export {
  type BuildInfo,
  Outbox,
  type OutboxEntry,
  type PendingBuild,
  type ResumableBuild,
} from './outbox';
