// A virtualized grid: only the rows in view (plus a margin) exist in the DOM, so 10,000+ rows scroll
// smoothly in one table. Cells are filled with textContent (user strings are never parsed as HTML).
import { h, clear } from './dom.js';

export const ROW_HEIGHT = 30;
const OVERSCAN = 8;

export class VirtualGrid {
  /**
   * opts: columns [{id, label, width, title, sortable, render(item) -> string|Node, cls(item)}],
   * onSort(colId), sort {id, desc}, onActivate(item), rowClass(item), label
   */
  constructor(opts) {
    this.opts = opts;
    this.items = [];
    this.cursor = -1;
    this.el = h('div', { class: 'grid', tabindex: '0', role: 'grid', 'aria-label': opts.label || 'Table', 'aria-rowcount': '0' });
    this.head = h('div', { class: 'grid-head', role: 'row' });
    this.body = h('div', { class: 'grid-body', role: 'rowgroup' });
    this.el.append(this.head, this.body);
    this.pending = false;
    this.el.addEventListener('scroll', () => this.schedule());
    this.el.addEventListener('keydown', (e) => this.onKey(e));
    this.resizeObs = new ResizeObserver(() => this.schedule());
    this.resizeObs.observe(this.el);
    this.setColumns(opts.columns);
  }

  destroy() { this.resizeObs.disconnect(); }

  setColumns(columns) {
    this.opts.columns = columns;
    this.width = columns.reduce((s, c) => s + c.width, 0);
    clear(this.head);
    this.head.style.width = `${this.width}px`;
    for (const c of columns) {
      const sorted = this.opts.sort && this.opts.sort.id === c.id;
      const arrow = sorted ? (this.opts.sort.desc ? ' ▼' : ' ▲') : '';
      const cell = h(c.sortable ? 'button' : 'div', {
        class: `gh ${c.cls || ''}${sorted ? ' sorted' : ''}`, style: { width: `${c.width}px` }, title: c.title || c.label,
        role: 'columnheader', 'aria-sort': sorted ? (this.opts.sort.desc ? 'descending' : 'ascending') : undefined,
        dataset: { col: c.id },
        onclick: c.sortable ? () => this.opts.onSort(c.id) : undefined,
      }, c.header ? c.header() : c.label + arrow);
      this.head.appendChild(cell);
    }
    this.body.style.width = `${this.width}px`;
    this.rendered = null;
    this.schedule();
  }

  setSort(sort) { this.opts.sort = sort; this.setColumns(this.opts.columns); }

  setItems(items) {
    this.items = items;
    this.el.setAttribute('aria-rowcount', String(items.length));
    this.body.style.height = `${items.length * ROW_HEIGHT}px`;
    this.rendered = null;
    this.schedule();
  }

  refresh() { this.rendered = null; this.schedule(); }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  draw() {
    const top = this.el.scrollTop;
    const height = this.el.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.items.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    const key = `${first}:${last}`;
    if (this.rendered === key) return;
    this.rendered = key;
    const frag = document.createDocumentFragment();
    const cols = this.opts.columns;
    for (let i = first; i < last; i++) {
      const item = this.items[i];
      const row = document.createElement('div');
      row.className = `gr${i === this.cursor ? ' cursor' : ''}${this.opts.rowClass ? ` ${this.opts.rowClass(item)}` : ''}`;
      row.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
      row.setAttribute('role', 'row');
      row.dataset.index = String(i);
      for (const c of cols) {
        const cell = document.createElement('div');
        cell.className = `gc ${c.cls || ''}`;
        cell.style.width = `${c.width}px`;
        const v = c.render(item);
        if (v instanceof Node) cell.appendChild(v);
        else if (v !== undefined && v !== null) { cell.textContent = v; cell.title = v; }
        row.appendChild(cell);
      }
      frag.appendChild(row);
    }
    clear(this.body).appendChild(frag);
  }

  scrollToIndex(i) {
    const top = i * ROW_HEIGHT;
    const viewTop = this.el.scrollTop + ROW_HEIGHT; // header height
    const viewBottom = this.el.scrollTop + this.el.clientHeight - ROW_HEIGHT;
    if (top < viewTop - ROW_HEIGHT) this.el.scrollTop = top;
    else if (top + ROW_HEIGHT > viewBottom) this.el.scrollTop = top - this.el.clientHeight + 3 * ROW_HEIGHT;
  }

  onKey(e) {
    if (e.target !== this.el) return;
    const n = this.items.length;
    if (!n) return;
    const page = Math.max(1, Math.floor(this.el.clientHeight / ROW_HEIGHT) - 2);
    let c = this.cursor;
    if (e.key === 'ArrowDown') c = Math.min(n - 1, c + 1);
    else if (e.key === 'ArrowUp') c = Math.max(0, c - 1);
    else if (e.key === 'PageDown') c = Math.min(n - 1, c + page);
    else if (e.key === 'PageUp') c = Math.max(0, c - page);
    else if (e.key === 'Home') c = 0;
    else if (e.key === 'End') c = n - 1;
    else if (e.key === 'Enter' && c >= 0) { this.opts.onActivate && this.opts.onActivate(this.items[c]); e.preventDefault(); return; }
    else if (e.key === ' ' && c >= 0) { this.opts.onToggle && this.opts.onToggle(this.items[c]); this.refresh(); e.preventDefault(); return; }
    else return;
    e.preventDefault();
    this.cursor = c;
    this.scrollToIndex(c);
    this.refresh();
  }
}
