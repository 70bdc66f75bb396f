import { useState } from 'react';

/** A secret shown once, right after it was made, with a copy button. */
export function SecretOnce({ secret, onDone }: { secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  async function copy() {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied(true);
    } catch (error) {
      // Clipboard access can be refused (permissions, insecure origin); the text stays selectable.
      console.warn('kiln: clipboard refused', error);
    }
  }
  return (
    <div className="secret-once" role="status" data-testid="secret-once">
      <p>
        <strong>Copy this token now.</strong> Kiln stores only its hash and will not show it again.
      </p>
      <div className="secret-row">
        <code className="secret" data-testid="secret-value">
          {secret}
        </code>
        <button type="button" className="button button-small" onClick={copy}>
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" className="button button-small button-ghost" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}
