import { describe, expect, it } from 'vitest';
import { presenceDiffFrame, presenceFrame, sessionServerFrame, type Viewer } from './frames';
import { applyPresence, NO_PRESENCE } from './presence';
import { projectServerFrame } from './project';

const viewer = (id: string): Viewer => ({ viewerId: id, displayName: `Person ${id}`, since: 1 });

describe('presence view', () => {
  it('a presence frame replaces the view; a diff drops who left and appends who joined', () => {
    let view = applyPresence(NO_PRESENCE, {
      type: 'presence',
      viewers: [viewer('a'), viewer('b')],
      count: 2,
    });
    view = applyPresence(view, {
      type: 'presence-diff',
      joined: [viewer('c')],
      left: ['a'],
      count: 2,
    });
    expect(view.viewers.map((v) => v.viewerId)).toEqual(['b', 'c']);
    expect(view.count).toBe(2);
  });

  it('a diff that lists someone already shown does not show them twice', () => {
    const view = applyPresence(
      { viewers: [viewer('a')], count: 1 },
      { type: 'presence-diff', joined: [viewer('a'), viewer('b')], left: [], count: 2 },
    );
    expect(view.viewers.map((v) => v.viewerId)).toEqual(['a', 'b']);
  });

  it('a count-only diff (a join past the list) changes only the count', () => {
    const view = applyPresence(
      { viewers: [viewer('a')], count: 60 },
      { type: 'presence-diff', joined: [], left: [], count: 61 },
    );
    expect(view).toEqual({ viewers: [viewer('a')], count: 61 });
  });

  it('both presence frames belong to the session and the project unions; a count is required', () => {
    const diff = { type: 'presence-diff', joined: [], left: ['a'], count: 0 };
    expect(sessionServerFrame.safeParse(diff).success).toBe(true);
    expect(projectServerFrame.safeParse(diff).success).toBe(true);
    expect(presenceDiffFrame.safeParse({ ...diff, count: -1 }).success).toBe(false);
    expect(presenceFrame.safeParse({ type: 'presence', viewers: [] }).success).toBe(false);
  });
});
