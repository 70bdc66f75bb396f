import type { RouteObject } from 'react-router';
import { AppLayout } from './app-layout';
import { NotFoundPage } from './pages/not-found-page';
import { ProjectPage } from './pages/project-page';
import { ProjectsPage } from './pages/projects-page';
import { RunnersPage } from './pages/runners-page';
import { SettingsPage } from './pages/settings-page';
import { SignInPage } from './pages/sign-in-page';

/** Every route of the SPA. The worker serves `index.html` for any path outside `/api`. */
export const routes: RouteObject[] = [
  { path: '/sign-in', element: <SignInPage /> },
  {
    element: <AppLayout />,
    children: [
      { index: true, element: <ProjectsPage /> },
      { path: 'projects/:projectId', element: <ProjectPage /> },
      { path: 'runners', element: <RunnersPage /> },
      { path: 'settings', element: <SettingsPage /> },
      { path: 's/:sessionId', lazy: loadSessionPage, HydrateFallback: Loading },
      {
        path: 'projects/:projectId/s/:sessionId',
        lazy: loadSessionPage,
        HydrateFallback: Loading,
      },
      { path: '*', element: <NotFoundPage /> },
    ],
  },
];

/** The session page (markdown renderer included) loads on first use, keeping the first load small. */
async function loadSessionPage() {
  const { SessionPage } = await import('./pages/session-page');
  return { Component: SessionPage };
}

/** Shown while the session page's code loads on a first visit straight to it. */
function Loading() {
  return (
    <div className="page-center" aria-busy="true">
      <div className="spinner" />
    </div>
  );
}
