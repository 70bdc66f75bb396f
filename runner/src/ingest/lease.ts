import { type BuildLease, buildLease, type CreateBuildRequest } from '@kiln/protocol';
import { requestJson, type ServerAuth } from '../net/http';

/**
 * Leases a build for a producer the hub did not dispatch (`kiln replay`, an import):
 * `POST /api/projects/:projectId/sessions/:sessionId/builds {agent, model}`. Errors: `ServerError`
 * (401 bad token, 403 not a member, 404 no such project, 409 a build is running…).
 */
export function leaseBuild(
  auth: ServerAuth,
  projectId: string,
  sessionId: string,
  request: CreateBuildRequest,
): Promise<BuildLease> {
  const path = `/api/projects/${encodeURIComponent(projectId)}/sessions/${encodeURIComponent(sessionId)}/builds`;
  return requestJson(auth, 'POST', path, buildLease, request);
}
