export {
  type BuildInfo,
  Outbox,
  type OutboxEntry,
  type ResumableBuild,
} from './outbox';
