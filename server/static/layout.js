// The TV's grid arithmetic: how many columns and rows make every player's drawing as large as
// possible in the space the screen has. Pure functions, no DOM: the numbers go in, a grid comes out.

/**
 * The grid for `count` cards in a `width` x `height` box (CSS pixels) that gives each drawing the
 * largest square: a card is its drawing plus `chromeWidth` x `chromeHeight` of name, guesses,
 * padding and border, and cards are `gap` apart.
 *
 * Drawings are fitted to their box with their aspect kept, and people draw things about as wide as
 * tall, so the side of the largest square a card's drawing box holds is what we maximize. Ties go
 * to fewer rows (wider cards leave room for long names).
 *
 * Returns {columns, rows, cellWidth, cellHeight, side}; side is 0 when nothing fits.
 */
export function bestGrid(count, width, height, { gap = 0, chromeWidth = 0, chromeHeight = 0 } = {}) {
  const cards = Math.max(1, count);
  let best = null;
  for (let columns = 1; columns <= cards; columns += 1) {
    const rows = Math.ceil(cards / columns);
    // A column count that leaves a whole row empty is never better than one column less.
    if (columns > 1 && Math.ceil(cards / (columns - 1)) === rows) continue;
    const cellWidth = (width - gap * (columns - 1)) / columns;
    const cellHeight = (height - gap * (rows - 1)) / rows;
    const side = Math.max(0, Math.min(cellWidth - chromeWidth, cellHeight - chromeHeight));
    if (best === null || side > best.side + 0.5 || (Math.abs(side - best.side) <= 0.5 && rows < best.rows)) {
      best = { columns, rows, cellWidth, cellHeight, side };
    }
  }
  return best;
}
