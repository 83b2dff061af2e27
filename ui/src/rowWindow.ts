// Windowing for long tables: past WINDOW_FROM rows, only the rows on screen (and OVERSCAN
// rows either side) are in the DOM; two spacer rows stand for the others, so the page
// scrolls as if every row were drawn. The page itself scrolls (no inner scroll box): the
// window is where the table's body meets the viewport. Rows are of one height (their cells
// do not wrap: `.runs-table td` in style.css), measured on the first row drawn.
//
// Keyboard: in a row, ArrowUp/ArrowDown move to the same cell of the row above/below,
// PageUp/PageDown by a screen, Ctrl+Home/Ctrl+End to the first/last row; the target row is
// scrolled into the window and drawn first. Tab moves through the drawn rows, and the
// browser scrolling the focused one into view moves the window along.
import type { RefObject } from "preact";
import { useCallback, useEffect, useLayoutEffect, useState } from "preact/hooks";

/** Tables longer than this draw only the rows on screen. */
export const WINDOW_FROM = 200;
const OVERSCAN = 10;
const ESTIMATE_PX = 33;

export interface RowWindow {
  /** Whether the table is windowed (longer than WINDOW_FROM). */
  on: boolean;
  /** The rows drawn: [start, end). */
  start: number;
  end: number;
  /** Heights of the spacers above and below the drawn rows (px). */
  above: number;
  below: number;
  /** Keyboard handler for the table's body. */
  onKeyDown: (e: KeyboardEvent) => void;
}

interface Range {
  start: number;
  end: number;
}

function visible(body: HTMLElement | null, count: number, rowPx: number): Range {
  if (!body) return { start: 0, end: Math.min(count, 2 * OVERSCAN) };
  const top = body.getBoundingClientRect().top; // where row 0 is, against the viewport
  const first = Math.floor(Math.max(0, -top) / rowPx);
  const last = Math.ceil(Math.max(0, window.innerHeight - top) / rowPx);
  return {
    start: Math.max(0, Math.min(count, first) - OVERSCAN),
    end: Math.min(count, last + OVERSCAN),
  };
}

/** The window of `count` rows of the table body `body` (rows carry `data-row={index}`). */
export function useRowWindow(body: RefObject<HTMLElement>, count: number): RowWindow {
  const on = count > WINDOW_FROM;
  const [rowPx, setRowPx] = useState(ESTIMATE_PX);
  const [range, setRange] = useState<Range>(() => ({ start: 0, end: Math.min(count, 50) }));
  const [pending, setPending] = useState<{ row: number; col: number } | null>(null);

  const update = useCallback(() => {
    const next = visible(body.current, count, rowPx);
    setRange((r) => (r.start === next.start && r.end === next.end ? r : next));
  }, [body, count, rowPx]);

  useLayoutEffect(() => {
    if (!on) return;
    update();
    let frame = 0;
    const schedule = () => {
      if (!frame) frame = requestAnimationFrame(() => { frame = 0; update(); });
    };
    window.addEventListener("scroll", schedule, { passive: true });
    window.addEventListener("resize", schedule);
    return () => {
      window.removeEventListener("scroll", schedule);
      window.removeEventListener("resize", schedule);
      if (frame) cancelAnimationFrame(frame);
    };
  }, [on, update]);

  // the rows' real height, once one is drawn (fonts, zoom)
  useLayoutEffect(() => {
    if (!on) return;
    const row = body.current?.querySelector<HTMLElement>("tr[data-row]");
    const h = row?.getBoundingClientRect().height ?? 0;
    if (h > 0 && Math.abs(h - rowPx) > 0.25) setRowPx(h);
  });

  // focus the cell a key asked for, once its row is drawn
  useEffect(() => {
    if (!pending) return;
    const row = body.current?.querySelector<HTMLTableRowElement>(`tr[data-row="${pending.row}"]`);
    if (!row) return;
    const cell = row.cells[pending.col] ?? row.cells[0];
    const target = cell?.querySelector<HTMLElement>("a, input, button, [tabindex]");
    setPending(null);
    target?.focus();
  });

  const onKeyDown = useCallback(
    (e: KeyboardEvent) => {
      const from = (e.target as HTMLElement).closest<HTMLTableRowElement>("tr[data-row]");
      const cell = (e.target as HTMLElement).closest<HTMLTableCellElement>("td");
      if (!from || !cell) return;
      const at = Number(from.dataset.row);
      const page = Math.max(1, Math.floor(window.innerHeight / rowPx) - 1);
      let to: number;
      if (e.key === "ArrowDown") to = at + 1;
      else if (e.key === "ArrowUp") to = at - 1;
      else if (e.key === "PageDown") to = at + page;
      else if (e.key === "PageUp") to = at - page;
      else if (e.key === "End" && (e.ctrlKey || e.metaKey)) to = count - 1;
      else if (e.key === "Home" && (e.ctrlKey || e.metaKey)) to = 0;
      else return;
      e.preventDefault();
      to = Math.max(0, Math.min(count - 1, to));
      if (to === at) return;
      const b = body.current;
      if (on && b) {
        // bring the row on screen: the scroll moves the window, which draws it
        const y = b.getBoundingClientRect().top + window.scrollY + to * rowPx;
        if (y < window.scrollY + rowPx) window.scrollTo(0, Math.max(0, y - 2 * rowPx));
        else if (y + rowPx > window.scrollY + window.innerHeight - rowPx)
          window.scrollTo(0, y + 3 * rowPx - window.innerHeight);
        const next = visible(b, count, rowPx);
        setRange((r) => (r.start === next.start && r.end === next.end ? r : next));
      }
      setPending({ row: to, col: cell.cellIndex });
    },
    [body, count, rowPx, on],
  );

  if (!on) return { on, start: 0, end: count, above: 0, below: 0, onKeyDown };
  const start = Math.min(range.start, count);
  const end = Math.min(Math.max(range.end, start), count);
  return { on, start, end, above: start * rowPx, below: (count - end) * rowPx, onKeyDown };
}
