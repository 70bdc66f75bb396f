import type { RouteObject } from 'react-router';
import { AppLayout } from './app-layout';
import { HomePage } from './pages/home-page';
import { NotFoundPage } from './pages/not-found-page';
import { SessionPage } from './pages/session-page';
import { SignInPage } from './pages/sign-in-page';

/** Every route of the SPA. The worker serves `index.html` for any path outside `/api`. */
export const routes: RouteObject[] = [
  { path: '/sign-in', element: <SignInPage /> },
  {
    element: <AppLayout />,
    children: [
      { index: true, element: <HomePage /> },
      { path: 's/:sessionId', element: <SessionPage /> },
      { path: 'projects/:projectId/s/:sessionId', element: <SessionPage /> },
      { path: '*', element: <NotFoundPage /> },
    ],
  },
];
