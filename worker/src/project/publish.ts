import type { ProjectEventBody } from '@kiln/protocol';
import type { Env } from '../env';

/**
 * Publishes project events to the project's channel. Called after D1 has committed the change, so
 * a failure here loses a live notification, not data: it is logged and the next load of the list
 * (from D1) is still right.
 */
export async function publishProjectEvents(
  env: Env,
  projectId: string,
  events: ProjectEventBody[],
): Promise<void> {
  try {
    await env.PROJECTS.getByName(projectId).publish(projectId, events);
  } catch (error) {
    console.error(`project ${projectId}: publishing ${events.map((e) => e.type)} failed`, error);
  }
}
