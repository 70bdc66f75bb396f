/**
 * The protocol conformance suite (`@kiln/protocol/conformance`): one definition of the socket and
 * producer contract, run by each server's tests through a small target interface. Test-only.
 */
export { runConformanceTests } from './suite';
export type {
  ConformanceCapabilities,
  ConformanceSession,
  ConformanceTarget,
  SocketHandlers,
  SocketSender,
} from './target';
