import { titleFromPrompt } from '@kiln/protocol';
import { generateText, type LanguageModel } from 'ai';

/** How much of the prompt the model sees: the title needs the gist, not the whole paste. */
const PROMPT_CHARS = 2_000;

/**
 * A short title for a session from its first prompt, written by `model` (as agentcmd names its
 * sessions): one line, at most 80 characters, quotes and a trailing period removed. Falls back
 * to the trimmed prompt when the model answers nothing usable. Errors: the model's (network,
 * auth); the caller keeps the prompt title then.
 */
export async function generateTitle(model: LanguageModel, prompt: string): Promise<string> {
  const { text } = await generateText({
    model,
    system:
      'You name coding-agent sessions. Answer with a title of at most six words for the task below: no quotes, no trailing period.',
    prompt: prompt.slice(0, PROMPT_CHARS),
    maxOutputTokens: 30,
  });
  const title = titleFromPrompt(text.replace(/^["'\s]+|["'.\s]+$/g, ''));
  return title || titleFromPrompt(prompt);
}
