import type { SitePlan } from './plan';

/** Escapes text for HTML element content and attribute values. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The marker before which follow-up turns insert their sections. */
export const SECTIONS_MARKER = '<!-- kiln:sections -->';

/** One `<section>` of the page. */
export function sectionHtml(heading: string, body: string): string {
  const id =
    heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}]+/gu, '-')
      .replace(/^-|-$/g, '') || 'section';
  return `      <section id="${escapeHtml(id)}">
        <h2>${escapeHtml(heading)}</h2>
        <p>${escapeHtml(body)}</p>
      </section>
`;
}

/** `index.html`: title, the three headings, the interactive list, and any follow-up sections. */
export function indexHtml(plan: SitePlan, prompt: string, extraSections: string[] = []): string {
  const [about = '', highlights = '', yours = ''] = plan.headings;
  const tags = plan.keywords.map((k) => `<li>${escapeHtml(k)}</li>`).join('');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${escapeHtml(plan.title)}</title>
    <link rel="stylesheet" href="styles.css" />
  </head>
  <body>
    <header>
      <h1>${escapeHtml(plan.title)}</h1>
      <p class="lede">${escapeHtml(prompt.trim().slice(0, 200))}</p>
    </header>
    <main>
${sectionHtml(about, `A small page about ${plan.keywords.slice(0, 3).join(', ') || 'your idea'}, built by Kiln's demo agent.`)}      <section id="highlights">
        <h2>${escapeHtml(highlights)}</h2>
        <ul class="tags">${tags}</ul>
      </section>
      <section id="yours">
        <h2>${escapeHtml(yours)}</h2>
        <form id="add-form">
          <input id="item-input" placeholder="Add a ${escapeHtml(plan.itemNoun)}" aria-label="New ${escapeHtml(plan.itemNoun)}" />
          <button type="submit">Add</button>
        </form>
        <ul id="items"></ul>
        <p><span id="count">0</span> ${escapeHtml(plan.itemNoun)} so far</p>
      </section>
${extraSections.join('')}      ${SECTIONS_MARKER}
    </main>
    <script src="app.js"></script>
  </body>
</html>
`;
}

/** `styles.css`: a palette picked from the title, so different prompts look different. */
export function stylesCss(plan: SitePlan): string {
  let hash = 0;
  for (const c of plan.title) hash = (hash * 31 + c.charCodeAt(0)) % 360;
  return `:root { --accent: hsl(${hash} 65% 45%); --bg: hsl(${hash} 40% 97%); }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, sans-serif; background: var(--bg); color: #1d1d1f; }
header { padding: 3rem 1.5rem 2rem; background: var(--accent); color: white; }
header h1 { margin: 0 0 0.5rem; font-size: 2.4rem; }
.lede { margin: 0; opacity: 0.9; max-width: 40rem; }
main { max-width: 48rem; margin: 0 auto; padding: 1.5rem; }
section { margin: 0 0 2rem; }
h2 { color: var(--accent); }
.tags { display: flex; flex-wrap: wrap; gap: 0.5rem; padding: 0; list-style: none; }
.tags li { padding: 0.25rem 0.75rem; border-radius: 999px; background: white; border: 1px solid var(--accent); }
form { display: flex; gap: 0.5rem; }
input { flex: 1; padding: 0.5rem; font: inherit; }
button { padding: 0.5rem 1rem; font: inherit; background: var(--accent); color: white; border: 0; border-radius: 0.25rem; cursor: pointer; }
`;
}

/**
 * `app.js`: the interactive list (add items, count them, keep them in localStorage when the
 * browser allows it — in a preview iframe on Kiln's apps origin, a cross-site frame, browsers that
 * block third-party storage throw on `localStorage`; the list then lives for the page only).
 */
export function appJs(plan: SitePlan): string {
  const key = `kiln:${plan.title.toLowerCase().replace(/\s+/g, '-')}`;
  return `// ${plan.title}: add ${plan.itemNoun} to the list; they are kept in this browser.
const storageKey = ${JSON.stringify(key)};
const form = document.getElementById('add-form');
const input = document.getElementById('item-input');
const list = document.getElementById('items');
const count = document.getElementById('count');
// Reading localStorage throws where the browser refuses this frame storage (third-party).
function storage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}
const items = JSON.parse(storage()?.getItem(storageKey) ?? '[]');

function render() {
  list.replaceChildren(
    ...items.map((text) => {
      const li = document.createElement('li');
      li.textContent = text;
      return li;
    }),
  );
  count.textContent = String(items.length);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  items.push(text);
  storage()?.setItem(storageKey, JSON.stringify(items));
  input.value = '';
  render();
});

render();
`;
}

/** `package.json` with a `build` script that needs nothing but Node. */
export function packageJson(plan: SitePlan): string {
  const name =
    plan.title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'kiln-demo';
  return `${JSON.stringify(
    { name, private: true, version: '0.1.0', scripts: { build: 'node build.mjs' } },
    null,
    2,
  )}\n`;
}

/**
 * `build.mjs`: checks the site (files present, index.html links its CSS and JS and has a title,
 * app.js parses) and copies it to `dist/`. Errors are printed as `file:line: message` on stderr
 * and exit 1, which the agents turn into `diagnostics`.
 */
export const BUILD_MJS = `// Checks the site and copies it to dist/. Needs only Node.
import { copyFile, mkdir, readFile, rm } from 'node:fs/promises';
import vm from 'node:vm';

const files = ['index.html', 'styles.css', 'app.js'];
const errors = [];
const text = {};
for (const file of files) {
  try {
    text[file] = await readFile(file, 'utf8');
    if (!text[file].trim()) errors.push(\`\${file}:1: file is empty\`);
  } catch {
    errors.push(\`\${file}:1: file is missing\`);
  }
}
const html = text['index.html'] ?? '';
if (html && !/<title>[^<]+<\\/title>/.test(html)) errors.push('index.html:1: no <title>');
if (html && !html.includes('href="styles.css"')) errors.push('index.html:1: styles.css is not linked');
if (html && !html.includes('src="app.js"')) errors.push('index.html:1: app.js is not loaded');
if (text['app.js']) {
  try {
    new vm.Script(text['app.js'], { filename: 'app.js' });
  } catch (error) {
    const line = /app\\.js:(\\d+)/.exec(error.stack ?? '')?.[1] ?? '1';
    errors.push(\`app.js:\${line}: \${error.message}\`);
  }
}
if (errors.length) {
  for (const error of errors) console.error(error);
  console.error(\`build failed: \${errors.length} error(s)\`);
  process.exit(1);
}
await rm('dist', { recursive: true, force: true });
await mkdir('dist');
let bytes = 0;
for (const file of files) {
  await copyFile(file, \`dist/\${file}\`);
  bytes += Buffer.byteLength(text[file]);
}
console.log(\`checked \${files.length} files, wrote dist/ (\${bytes} bytes)\`);
`;
