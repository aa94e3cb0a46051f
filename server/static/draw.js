// Drawing surfaces: a pad that captures one person's strokes (mouse, pen and touch through pointer
// events), a view that paints anyone's strokes, and a streamer that turns strokes into `stroke`
// batches every 50 ms.
//
// Every surface of this client uses one logical coordinate space, a square of SPACE x SPACE units,
// whatever its size on screen: the web client declares `canvas: [SPACE, SPACE]` in hello, so its
// points mean the same on a phone and on a TV, and a window resize never changes a drawing. Other
// clients declare their own canvas (a phone app: its screen, say [390, 844]); the server relays it
// with every stroke, and views that show other people's drawings fit the drawing itself to the box.

export const SPACE = 1000;
// Points closer than this (logical units) to the previous one add nothing a 28x28 raster can see.
const MIN_STEP = 2;
const INK = "#1d1d2c";
// A view that fits the drawing never zooms in further than this fraction of the drawer's canvas (its
// shorter side): a first short stroke shows as a short stroke, not as a line across the card.
const MIN_FRAME = 0.3;
// Free border around a fitted drawing, as a fraction of the box (room for the line's width).
const FIT_MARGIN = 0.06;
// Without a declared canvas the protocol assumes Google's 0..255 square.
const DEFAULT_CANVAS = [256, 256];

/** A drawing: stroke index -> list of [x, y, t] points, in logical units. */
export class Drawing {
  constructor() {
    this.strokes = new Map();
    this.canvas = null; // the drawer's declared [width, height], when the server relayed one
  }

  /** Remember the drawer's canvas ([width, height] from a relayed stroke); ignores anything else. */
  setCanvas(canvas) {
    if (Array.isArray(canvas) && canvas.length === 2 && canvas[0] > 0 && canvas[1] > 0) {
      this.canvas = [Number(canvas[0]), Number(canvas[1])];
    }
  }

  add(strokeIndex, points) {
    let line = this.strokes.get(strokeIndex);
    if (!line) {
      line = [];
      this.strokes.set(strokeIndex, line);
    }
    for (const point of points) line.push(point);
  }

  clear() {
    this.strokes.clear();
  }

  get pointCount() {
    let count = 0;
    for (const line of this.strokes.values()) count += line.length;
    return count;
  }

  /** Strokes in index order, each a list of points. */
  ordered() {
    return [...this.strokes.entries()].sort((a, b) => a[0] - b[0]).map(([, line]) => line);
  }

  /** The largest coordinate seen: more than SPACE means another client with a bigger canvas. */
  extent() {
    let extent = 0;
    for (const line of this.strokes.values()) {
      for (const [x, y] of line) extent = Math.max(extent, x, y);
    }
    return extent;
  }

  /** The bounding box of every point, {minX, minY, maxX, maxY}, or null when there are none. */
  bounds() {
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (const line of this.strokes.values()) {
      for (const [x, y] of line) {
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        if (y > maxY) maxY = y;
      }
    }
    return minX === Infinity ? null : { minX, minY, maxX, maxY };
  }
}

/**
 * Where a pad paints: the SPACE square scaled into the element's shorter side, from the top left, so
 * that what is drawn stays under the pointer. A drawing that goes beyond SPACE (another client's)
 * is shrunk to fit. Returns {scale, dx, dy} in backing-store pixels per logical unit.
 */
export function fitSpace(drawing, width, height) {
  const extent = Math.max(SPACE, drawing.extent() * 1.02);
  return { scale: Math.min(width, height) / extent, dx: 0, dy: 0 };
}

/**
 * Where a view of someone's drawing paints: the drawing's bounding box, centred and scaled to fill
 * a width x height box with its aspect kept, whatever canvas it was drawn on (a tall phone, a square
 * pad, a landscape tablet). The box is never smaller than MIN_FRAME of the drawer's canvas, so the
 * first strokes do not jump to full size. Returns {scale, dx, dy}.
 */
export function fitDrawing(drawing, width, height) {
  const bounds = drawing.bounds();
  const [canvasWidth, canvasHeight] = drawing.canvas || DEFAULT_CANVAS;
  if (!bounds) return { scale: Math.min(width / canvasWidth, height / canvasHeight), dx: 0, dy: 0 };
  const least = MIN_FRAME * Math.min(canvasWidth, canvasHeight);
  const frameWidth = Math.max(bounds.maxX - bounds.minX, least);
  const frameHeight = Math.max(bounds.maxY - bounds.minY, least);
  const usable = 1 - 2 * FIT_MARGIN;
  const scale = Math.min((width * usable) / frameWidth, (height * usable) / frameHeight);
  const centreX = (bounds.minX + bounds.maxX) / 2;
  const centreY = (bounds.minY + bounds.maxY) / 2;
  return { scale, dx: width / 2 - centreX * scale, dy: height / 2 - centreY * scale };
}

/**
 * Paints a Drawing on a canvas element, sharp on high-DPI screens, and repaints when the element
 * is resized. Repaints are batched to one per animation frame.
 *
 * `fit` places the drawing: `fitSpace` (a pad: the logical square, as drawn) or `fitDrawing`
 * (someone else's drawing, filling the element).
 */
export class DrawingView {
  constructor(canvas, drawing = new Drawing(), { fit = fitSpace } = {}) {
    this.canvas = canvas;
    this.drawing = drawing;
    this.fitTo = fit;
    this.context = canvas.getContext("2d");
    this.scheduled = false;
    this.resizeObserver = new ResizeObserver(() => this.fit());
    this.resizeObserver.observe(canvas);
    this.fit();
  }

  /** Match the backing store to the element's size times devicePixelRatio. */
  fit() {
    const ratio = window.devicePixelRatio || 1;
    const rect = this.canvas.getBoundingClientRect();
    const width = Math.max(1, Math.round(rect.width * ratio));
    const height = Math.max(1, Math.round(rect.height * ratio));
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.paintNow();
  }

  repaint() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.paintNow();
    });
  }

  paintNow() {
    const { canvas, context } = this;
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.clearRect(0, 0, canvas.width, canvas.height);
    const { scale, dx, dy } = this.fitTo(this.drawing, canvas.width, canvas.height);
    context.setTransform(scale, 0, 0, scale, dx, dy);
    const ratio = window.devicePixelRatio || 1;
    const cssSide = Math.min(canvas.width, canvas.height) / ratio;
    // The line's width is set in screen pixels, so a zoomed-in drawing is not painted with a marker:
    // about 3 px on a 300 px canvas, never thinner than 1.5 px on a thumbnail nor over 6 px.
    context.lineWidth = (Math.max(1.5, Math.min(6, cssSide / 100)) * ratio) / scale;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.strokeStyle = INK;
    context.fillStyle = INK;
    for (const line of this.drawing.ordered()) paintLine(context, line);
  }

  destroy() {
    this.resizeObserver.disconnect();
  }
}

function paintLine(context, line) {
  if (line.length === 0) return;
  if (line.length === 1) {
    const [x, y] = line[0];
    context.beginPath();
    context.arc(x, y, context.lineWidth / 2, 0, Math.PI * 2);
    context.fill();
    return;
  }
  context.beginPath();
  context.moveTo(line[0][0], line[0][1]);
  for (let i = 1; i < line.length; i += 1) context.lineTo(line[i][0], line[i][1]);
  context.stroke();
}

/**
 * Captures strokes on a canvas with pointer events: one pointer at a time, pointer capture so a
 * stroke continues when the finger slides off the edge, coalesced events for fast pens.
 *
 * Callbacks: onStrokeStart(strokeIndex), onPoints(strokeIndex, points), onStrokeEnd(strokeIndex).
 * `now()` gives each point's t in ms.
 */
export class DrawingPad extends DrawingView {
  constructor(canvas, { now, onStrokeStart, onPoints, onStrokeEnd } = {}) {
    super(canvas);
    this.now = now || (() => 0);
    this.onStrokeStart = onStrokeStart || (() => {});
    this.onPoints = onPoints || (() => {});
    this.onStrokeEnd = onStrokeEnd || (() => {});
    this.enabled = false;
    this.activePointer = null;
    this.strokeIndex = -1;
    this.lastPoint = null;
    this.nextStroke = 0;
    canvas.addEventListener("pointerdown", (event) => this.down(event));
    canvas.addEventListener("pointermove", (event) => this.move(event));
    canvas.addEventListener("pointerup", (event) => this.up(event));
    canvas.addEventListener("pointercancel", (event) => this.up(event));
    canvas.addEventListener("lostpointercapture", (event) => this.up(event));
    // Belt and braces with `touch-action: none`: no scrolling, zooming or long-press menu while drawing.
    canvas.addEventListener("touchstart", (event) => event.preventDefault(), { passive: false });
    canvas.addEventListener("contextmenu", (event) => event.preventDefault());
  }

  setEnabled(enabled) {
    this.enabled = enabled;
    this.canvas.classList.toggle("is-disabled", !enabled);
    if (!enabled && this.activePointer !== null) this.finish();
  }

  /** Forget the drawing (a new round); the next stroke is number 0 again. */
  reset() {
    if (this.activePointer !== null) this.finish();
    this.drawing.clear();
    this.nextStroke = 0;
    this.repaint();
  }

  get strokeCount() {
    return this.nextStroke;
  }

  toLogical(event) {
    const rect = this.canvas.getBoundingClientRect();
    const x = ((event.clientX - rect.left) / rect.width) * SPACE;
    const y = ((event.clientY - rect.top) / rect.height) * SPACE;
    // Pointer capture keeps reporting outside the element; keep points on the canvas.
    const clamp = (value) => Math.round(Math.min(SPACE, Math.max(0, value)) * 10) / 10;
    return [clamp(x), clamp(y), Math.max(0, Math.round(this.now()))];
  }

  down(event) {
    if (!this.enabled || this.activePointer !== null) return;
    if (event.pointerType === "mouse" && event.button !== 0) return;
    event.preventDefault();
    try {
      this.canvas.setPointerCapture(event.pointerId);
    } catch {
      // A synthetic event (a script, a test) has no active pointer to capture; draw without capture.
    }
    this.activePointer = event.pointerId;
    this.strokeIndex = this.nextStroke;
    this.nextStroke += 1;
    this.lastPoint = null;
    this.onStrokeStart(this.strokeIndex);
    this.addPoints([this.toLogical(event)], true);
  }

  move(event) {
    if (event.pointerId !== this.activePointer) return;
    event.preventDefault();
    const events = typeof event.getCoalescedEvents === "function" ? event.getCoalescedEvents() : [];
    const samples = (events.length ? events : [event]).map((sample) => this.toLogical(sample));
    this.addPoints(samples, false);
  }

  up(event) {
    if (event.pointerId !== this.activePointer) return;
    if (event.type === "pointerup") this.addPoints([this.toLogical(event)], false, true);
    this.finish();
  }

  finish() {
    const index = this.strokeIndex;
    if (this.activePointer !== null && this.canvas.hasPointerCapture(this.activePointer)) {
      this.canvas.releasePointerCapture(this.activePointer);
    }
    this.activePointer = null;
    this.lastPoint = null;
    this.onStrokeEnd(index);
  }

  addPoints(samples, first, last = false) {
    const kept = [];
    for (const point of samples) {
      const previous = this.lastPoint;
      const far = !previous || Math.hypot(point[0] - previous[0], point[1] - previous[1]) >= MIN_STEP;
      if (first || far || (last && previous && (point[0] !== previous[0] || point[1] !== previous[1]))) {
        kept.push(point);
        this.lastPoint = point;
        first = false;
      }
    }
    if (kept.length === 0) return;
    this.drawing.add(this.strokeIndex, kept);
    this.onPoints(this.strokeIndex, kept);
    this.repaint();
  }
}

/**
 * Streams one player's strokes as `stroke` messages: points gather for at most `intervalMs` and go
 * out in one batch (the protocol asks for 50-100 ms), the pen-up batch carries `end: true`, and no
 * batch holds more than `maxPoints` points.
 *
 * `send(strokeIndex, points, end)` does the sending.
 */
export class StrokeStreamer {
  constructor(send, { intervalMs = 50, maxPoints = 512 } = {}) {
    this.send = send;
    this.intervalMs = intervalMs;
    this.maxPoints = maxPoints;
    this.pending = [];
    this.strokeIndex = null;
    this.timer = null;
  }

  start(strokeIndex) {
    this.strokeIndex = strokeIndex;
    this.pending = [];
  }

  push(strokeIndex, points) {
    if (strokeIndex !== this.strokeIndex) return;
    this.pending.push(...points);
    while (this.pending.length >= this.maxPoints) {
      this.send(this.strokeIndex, this.pending.splice(0, this.maxPoints - 1), false);
    }
    if (this.timer === null) this.timer = setTimeout(() => this.flush(false), this.intervalMs);
  }

  end(strokeIndex) {
    if (strokeIndex !== this.strokeIndex) return;
    this.flush(true);
    this.strokeIndex = null;
  }

  flush(end) {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.strokeIndex === null) return;
    if (this.pending.length === 0 && !end) return;
    const points = this.pending;
    this.pending = [];
    this.send(this.strokeIndex, points, end);
  }

  /** Drop whatever has not gone out (the round ended). */
  cancel() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.pending = [];
    this.strokeIndex = null;
  }
}
