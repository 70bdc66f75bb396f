import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Avatars } from './avatars';

const v = (id: string, name: string) => ({ viewerId: id, displayName: name, since: 1 });

describe('Avatars', () => {
  it('leaves out the tab itself and counts everyone past the presence list in "+N"', () => {
    render(
      <Avatars
        presence={{ viewers: [v('me', 'Me Myself'), v('a', 'Ada Lovelace')], count: 12 }}
        selfId="me"
        label="Also watching"
      />,
    );
    const list = screen.getByTestId('presence');
    expect(list.getAttribute('aria-label')).toBe('Also watching: Ada Lovelace, 10 more');
    expect(screen.getByText('AL')).toBeTruthy();
    expect(screen.getByText('+10')).toBeTruthy();
  });

  it('shows nothing when the tab watches alone', () => {
    const { container } = render(
      <Avatars presence={{ viewers: [v('me', 'Me')], count: 1 }} selfId="me" label="x" />,
    );
    expect(container.innerHTML).toBe('');
  });
});
