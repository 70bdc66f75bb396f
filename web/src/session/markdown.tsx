import { memo } from 'react';
import ReactMarkdown, { type Components, type Options } from 'react-markdown';
import rehypeHighlight from 'rehype-highlight';
import remarkGfm from 'remark-gfm';

const remarkPlugins = [remarkGfm];
// Highlights fenced code with highlight.js's common languages; unknown languages stay plain.
const rehypePlugins: Options['rehypePlugins'] = [[rehypeHighlight, { detect: false }]];

// Agent text may link anywhere: open links in a new tab without giving it this window.
const components: Components = {
  a: ({ node: _node, ...props }) => <a {...props} target="_blank" rel="noopener noreferrer" />,
};

/**
 * GitHub-flavoured markdown with highlighted code (raw HTML is not rendered). Re-parses only when
 * `text` changes; a streaming message re-renders alone since the reducer shares the others.
 */
export const Markdown = memo(function Markdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      <ReactMarkdown
        remarkPlugins={remarkPlugins}
        rehypePlugins={rehypePlugins}
        components={components}
      >
        {text}
      </ReactMarkdown>
    </div>
  );
});
