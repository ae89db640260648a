/**
 * Zoom and pan of the drawing through the SVG viewBox: wheel zooms around the pointer, dragging the
 * background pans, buttons zoom around the centre, `fit` shows everything. Changing the viewBox
 * moves nothing in the DOM, so it stays smooth however large the drawing is.
 */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

const MIN_SCALE = 0.05;
const MAX_SCALE = 4;

export class Viewport {
  private view: Rect = { x: 0, y: 0, w: 1000, h: 700 };
  private content: Rect = { x: 0, y: 0, w: 1000, h: 700 };
  private listeners: ((scale: number) => void)[] = [];
  private width = 0;
  /** The view shows everything and should go on doing so (until the user zooms or pans). */
  private autoFit = true;

  constructor(private readonly svg: SVGSVGElement) {
    svg.addEventListener('wheel', (event) => this.onWheel(event), { passive: false });
    this.enableDrag();
    new ResizeObserver(() => this.onResize()).observe(svg);
  }

  /**
   * A side panel opened or the window changed: a view showing everything keeps doing so; a view the
   * user zoomed keeps its zoom and its centre.
   */
  private onResize(): void {
    const width = this.svg.getBoundingClientRect().width;
    if (this.autoFit) {
      this.width = width;
      this.fit();
      return;
    }
    if (this.width > 0 && width > 0) {
      const w = this.view.w * (width / this.width);
      this.view.x += (this.view.w - w) / 2;
      this.view.w = w;
    }
    this.width = width;
    this.apply();
  }

  /** Pixels per drawing unit. */
  get scale(): number {
    const box = this.svg.getBoundingClientRect();
    return box.width > 0 ? box.width / this.view.w : 1;
  }

  /** The part of the drawing in sight. */
  get visible(): Rect {
    return { ...this.view };
  }

  onChange(listener: (scale: number) => void): void {
    this.listeners.push(listener);
  }

  /** The drawing changed: until the user zooms, pans or folds, everything stays in view. */
  setContent(width: number, height: number): void {
    this.content = { x: 0, y: 0, w: width, h: height };
    if (this.autoFit) this.fit();
    else this.apply();
  }

  /** Stop following the drawing's size: the user is looking at something. */
  hold(): void {
    this.autoFit = false;
  }

  fit(): void {
    this.show(this.content, 1);
    this.autoFit = true;
  }

  /** Shows `rect` whole, at most at `maxScale` pixels per unit (close-ups stay readable, not huge). */
  show(rect: Rect, maxScale = 1.5): void {
    this.autoFit = false;
    const box = this.svg.getBoundingClientRect();
    const width = box.width || 1000;
    const height = box.height || 700;
    const scale = Math.max(MIN_SCALE, Math.min(maxScale, width / rect.w, height / rect.h));
    const w = width / scale;
    const h = height / scale;
    this.view = { x: rect.x + rect.w / 2 - w / 2, y: rect.y + rect.h / 2 - h / 2, w, h };
    this.apply();
  }

  zoom(factor: number, around?: { x: number; y: number }): void {
    this.autoFit = false;
    const box = this.svg.getBoundingClientRect();
    const current = box.width / this.view.w;
    const next = Math.max(MIN_SCALE, Math.min(MAX_SCALE, current * factor));
    const applied = next / current;
    const cx = around?.x ?? this.view.x + this.view.w / 2;
    const cy = around?.y ?? this.view.y + this.view.h / 2;
    this.view = {
      x: cx - (cx - this.view.x) / applied,
      y: cy - (cy - this.view.y) / applied,
      w: this.view.w / applied,
      h: this.view.h / applied,
    };
    this.apply();
  }

  private toDrawing(clientX: number, clientY: number): { x: number; y: number } {
    const box = this.svg.getBoundingClientRect();
    return {
      x: this.view.x + ((clientX - box.left) / box.width) * this.view.w,
      y: this.view.y + ((clientY - box.top) / box.height) * this.view.h,
    };
  }

  private onWheel(event: WheelEvent): void {
    event.preventDefault();
    // Trackpads send small deltas often, wheels large ones seldom: scale by the delta.
    const factor = Math.exp(-event.deltaY * (event.ctrlKey ? 0.01 : 0.002));
    this.zoom(factor, this.toDrawing(event.clientX, event.clientY));
  }

  private enableDrag(): void {
    let start: { x: number; y: number; view: Rect } | undefined;
    this.svg.addEventListener('pointerdown', (event) => {
      if (event.button !== 0) return;
      const target = event.target as Element;
      if (target.closest('[data-key], [data-toggle]')) return;
      start = { x: event.clientX, y: event.clientY, view: { ...this.view } };
      this.autoFit = false;
      this.svg.setPointerCapture(event.pointerId);
      this.svg.classList.add('dragging');
    });
    this.svg.addEventListener('pointermove', (event) => {
      if (!start) return;
      const box = this.svg.getBoundingClientRect();
      const unitsPerPixel = start.view.w / box.width;
      this.view = {
        ...start.view,
        x: start.view.x - (event.clientX - start.x) * unitsPerPixel,
        y: start.view.y - (event.clientY - start.y) * unitsPerPixel,
      };
      this.apply();
    });
    const end = (): void => {
      start = undefined;
      this.svg.classList.remove('dragging');
    };
    this.svg.addEventListener('pointerup', end);
    this.svg.addEventListener('pointercancel', end);
  }

  private apply(): void {
    const box = this.svg.getBoundingClientRect();
    // Keep the aspect of the element: the viewBox height follows its width.
    if (box.width > 0 && box.height > 0) this.view.h = (this.view.w * box.height) / box.width;
    const { x, y, w, h } = this.view;
    this.svg.setAttribute('viewBox', `${x} ${y} ${w} ${h}`);
    for (const listener of this.listeners) listener(this.scale);
  }
}
