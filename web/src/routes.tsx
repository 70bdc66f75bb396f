import type { RouteObject } from 'react-router';
import { AppLayout } from './app-layout';
import { NotFoundPage } from './pages/not-found-page';
import { ProjectPage } from './pages/project-page';
import { ProjectsPage } from './pages/projects-page';
import { SignInPage } from './pages/sign-in-page';

/** Every route of the SPA. The worker serves `index.html` for any path outside `/api`. */
export const routes: RouteObject[] = [
  { path: '/sign-in', element: <SignInPage /> },
  {
    element: <AppLayout />,
    children: [
      { index: true, element: <ProjectsPage /> },
      { path: 'projects/:projectId', element: <ProjectPage /> },
      { path: 's/:sessionId', lazy: loadSessionPage },
      { path: 'projects/:projectId/s/:sessionId', lazy: loadSessionPage },
      { path: '*', element: <NotFoundPage /> },
    ],
  },
];

/** The session page (markdown renderer included) loads on first use, keeping the first load small. */
async function loadSessionPage() {
  const { SessionPage } = await import('./pages/session-page');
  return { Component: SessionPage };
}
