// A small, safe Markdown renderer that builds DOM nodes (never HTML strings): headings, paragraphs,
// lists, block quotes, fenced code, inline code, bold, italic and links (http/https/mailto/relative only).
import { h } from './dom.js';

const LINK_OK = /^(https?:\/\/|mailto:|#|\/)/i;

function inline(text) {
  const out = [];
  const re = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*]+\*|_[^_]+_)|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0; let m;
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1]) out.push(h('code', null, m[1].slice(1, -1)));
    else if (m[2]) out.push(h('strong', null, inline(m[2].slice(2, -2))));
    else if (m[3]) out.push(h('em', null, inline(m[3].slice(1, -1))));
    else if (m[4]) out.push(LINK_OK.test(m[5]) ? h('a', { href: m[5], rel: 'noopener noreferrer nofollow', target: '_blank' }, m[4]) : m[0]);
    last = re.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export function markdown(src) {
  const root = h('div', { class: 'md' });
  const lines = String(src || '').replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^```/.test(line)) {
      const buf = [];
      i++;
      while (i < lines.length && !/^```/.test(lines[i])) buf.push(lines[i++]);
      i++;
      root.appendChild(h('pre', null, h('code', null, buf.join('\n'))));
      continue;
    }
    const hm = line.match(/^(#{1,6})\s+(.*)$/);
    if (hm) { root.appendChild(h(`h${Math.min(6, hm[1].length + 2)}`, null, inline(hm[2]))); i++; continue; }
    if (/^\s*([-*+]|\d+\.)\s+/.test(line)) {
      const ordered = /^\s*\d+\./.test(line);
      const list = h(ordered ? 'ol' : 'ul');
      while (i < lines.length && /^\s*([-*+]|\d+\.)\s+/.test(lines[i])) list.appendChild(h('li', null, inline(lines[i++].replace(/^\s*([-*+]|\d+\.)\s+/, ''))));
      root.appendChild(list);
      continue;
    }
    if (/^>\s?/.test(line)) {
      const buf = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) buf.push(lines[i++].replace(/^>\s?/, ''));
      root.appendChild(h('blockquote', null, inline(buf.join(' '))));
      continue;
    }
    if (!line.trim()) { i++; continue; }
    const buf = [];
    while (i < lines.length && lines[i].trim() && !/^(```|#{1,6}\s|>|\s*([-*+]|\d+\.)\s)/.test(lines[i])) buf.push(lines[i++]);
    root.appendChild(h('p', null, inline(buf.join(' '))));
  }
  return root;
}
