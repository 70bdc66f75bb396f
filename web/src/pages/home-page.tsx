import { type FormEvent, useState } from 'react';
import { useNavigate } from 'react-router';

/** `/`: what Kiln is and how to start a session, until the project list arrives. */
export function HomePage() {
  return (
    <div className="home">
      <section className="hero">
        <h1>Watch AI agents build apps, live.</h1>
        <p className="lead">
          Kiln streams every event of a generation session — the agent's text, its plan, each tool
          call with input and output, token usage and cost — to everyone watching, in order, with
          nothing lost or duplicated.
        </p>
      </section>
      <section className="home-grid">
        <article className="card">
          <h2>Start a session</h2>
          <p className="muted">Replay a recorded agent run into a new session:</p>
          <pre className="code">
            pnpm kiln replay ../shared/fixtures/recorded/claude-code-stream-json.jsonl
          </pre>
          <p className="muted">
            It prints the session's link. Open it here to watch the run as it streams.
          </p>
        </article>
        <article className="card">
          <h2>Open a session</h2>
          <OpenSessionForm />
        </article>
      </section>
    </div>
  );
}

function OpenSessionForm() {
  const [id, setId] = useState('');
  const navigate = useNavigate();
  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const sessionId = id.trim();
    if (sessionId) void navigate(`/s/${encodeURIComponent(sessionId)}`);
  }
  return (
    <form className="inline-form" onSubmit={onSubmit}>
      <label className="field">
        <span>Session id</span>
        <input
          value={id}
          onChange={(event) => setId(event.target.value)}
          placeholder="e.g. 3f1c…"
          spellCheck={false}
        />
      </label>
      <button type="submit" className="button button-primary" disabled={!id.trim()}>
        Open
      </button>
    </form>
  );
}
