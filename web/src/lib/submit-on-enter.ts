import type { KeyboardEvent } from 'react';

/**
 * onKeyDown for a prompt textarea inside a form: Enter submits the form (through its onSubmit, so
 * the form's own checks apply), Shift+Enter keeps the default new line. Enter while an IME is
 * composing only confirms the composition.
 */
export function submitOnEnter(event: KeyboardEvent<HTMLTextAreaElement>): void {
  if (event.key !== 'Enter' || event.shiftKey || event.nativeEvent.isComposing) return;
  event.preventDefault();
  event.currentTarget.form?.requestSubmit();
}
