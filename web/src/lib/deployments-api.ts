import {
  type AppVersion,
  type DeploymentResponse,
  deploymentResponse,
  type ProjectDeployment,
  projectDeployment,
  versionsResponse,
} from '@kiln/protocol';
import { ApiError, apiFetch } from './api';

// A project's versions and deployment (PROTOCOL.md §10); every body is checked with its protocol schema.

function projectPath(projectId: string, rest: string): string {
  return `/api/projects/${encodeURIComponent(projectId)}/${rest}`;
}

/** What the schemas here offer (a zod schema's `safeParse`). */
interface Schema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false };
}

async function parsed<T>(response: Response, schema: Schema<T>, what: string): Promise<T> {
  const result = schema.safeParse(await response.json());
  if (!result.success) throw new ApiError(response.status, 'bad-response', `${what} did not parse`);
  return result.data;
}

/** `GET /api/projects/:id/versions`: the stored versions, newest first. */
export async function fetchVersions(
  projectId: string,
  signal?: AbortSignal,
): Promise<AppVersion[]> {
  const response = await apiFetch(projectPath(projectId, 'versions'), signal ? { signal } : {});
  return (await parsed(response, versionsResponse, 'The versions list')).versions;
}

/** `GET /api/projects/:id/deployment`: the live deployment (or null) and its history. */
export async function fetchDeployment(
  projectId: string,
  signal?: AbortSignal,
): Promise<DeploymentResponse> {
  const response = await apiFetch(projectPath(projectId, 'deployment'), signal ? { signal } : {});
  return parsed(response, deploymentResponse, 'The deployment');
}

/**
 * `PUT /api/projects/:id/deployment {slug, version}` (owner, editor): serves `version` at the
 * public URL; also how a rollback is done. 409 `conflict` when another project has the slug.
 */
export async function publishVersion(
  projectId: string,
  slug: string,
  version: number,
): Promise<ProjectDeployment> {
  const response = await apiFetch(projectPath(projectId, 'deployment'), {
    method: 'PUT',
    body: JSON.stringify({ slug, version }),
  });
  return parsed(response, projectDeployment, 'The deployment');
}

/** `DELETE /api/projects/:id/deployment` (owner, editor): the public URL stops serving the app. */
export async function unpublish(projectId: string): Promise<void> {
  await apiFetch(projectPath(projectId, 'deployment'), { method: 'DELETE' });
}
