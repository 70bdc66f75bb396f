import type { Todo } from '@kiln/protocol';

/** Words that say nothing about what the site is about. */
const STOP_WORDS = new Set(
  `a an the and or but for with without to of in on at by from into onto about as is are be
  it its this that these those my our your their me we you i please can could would should will
  make build create write generate design add put give show let lets want need some any very
  really just simple small little nice cool new site website page web app application one two
  also more then than so up out over using use like which what who where when how section
  sections part`.split(/\s+/),
);

/** What the demo agent builds for a prompt; everything derives from the prompt's words. */
export interface SitePlan {
  /** Title Case, at most 5 words, e.g. "Tomato Garden Journal". */
  title: string;
  /** Lower-case significant words of the prompt, in order, without repeats (at most 8). */
  keywords: string[];
  /** The page's section headings (three). */
  headings: string[];
  /** What the interactive element collects, e.g. "tomato" → "Add a tomato". */
  itemNoun: string;
}

/** The significant words of a text, lower-cased, in order, deduplicated. */
export function keywordsOf(text: string, max = 8): string[] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu) ?? [];
  const out: string[] = [];
  for (const word of words) {
    if (word.length < 3 || STOP_WORDS.has(word) || out.includes(word)) continue;
    out.push(word);
    if (out.length === max) break;
  }
  return out;
}

/** Capitalises each word. */
function titleCase(words: readonly string[]): string {
  return words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' ');
}

/** Plans the site for a prompt. Deterministic: the same prompt always gives the same plan. */
export function planSite(prompt: string): SitePlan {
  const keywords = keywordsOf(prompt);
  const [first = 'kiln', second = 'ideas', third = 'notes'] = keywords;
  const title = titleCase(keywords.slice(0, 5).length ? keywords.slice(0, 5) : ['Kiln', 'Demo']);
  return {
    title,
    keywords,
    headings: [
      `About ${titleCase([first])}`,
      `${titleCase([second])} Highlights`,
      `Your ${titleCase([third])}`,
    ],
    itemNoun: third,
  };
}

/** A heading for a follow-up section, from the follow-up prompt. */
export function sectionHeading(prompt: string): string {
  const words = keywordsOf(prompt, 4);
  return words.length ? titleCase(words) : 'More';
}

/** A todo with its active form. */
export function todoItem(content: string, activeForm: string): Todo {
  return { content, activeForm, status: 'pending' };
}

/** The list with todos before `index` completed, `index` in progress and the rest pending. */
export function progress(todos: readonly Todo[], index: number): Todo[] {
  return todos.map((todo, i) => ({
    ...todo,
    status: i < index ? 'completed' : i === index ? 'in_progress' : 'pending',
  }));
}
