// Which words exist, shown as named packs of words: the lobby shows the room's words, practice the
// words this page knows of. A pack is {name, words}; every list on the page is rendered from packs,
// so a server that names its packs (a pack picker for the host) only changes where packs come from.
//
// Words are user-visible strings from the server: they only ever reach the page as text.

/** The room's word list as the one pack a snapshot carries today (`settings.words`). */
export function roomPack(words) {
  return { name: "This room", words: sortedWords(words) };
}

export function sortedWords(words) {
  return [...new Set(words || [])].sort(); // code-unit order: the same on every device
}

/**
 * Render `packs` into `container`: per pack a heading with its name and size, then its words as a
 * wrapping list. With no words at all, `emptyText` is shown instead.
 */
export function renderWordPacks(container, packs, { emptyText = "" } = {}) {
  const filled = (packs || []).filter((pack) => pack.words.length > 0);
  if (filled.length === 0) {
    const hint = document.createElement("p");
    hint.className = "hint";
    hint.textContent = emptyText;
    container.replaceChildren(hint);
    return;
  }
  container.replaceChildren(
    ...filled.map((pack) => {
      const section = document.createElement("div");
      section.className = "word-pack";
      const title = document.createElement("h3");
      title.className = "pack-name";
      title.textContent = `${pack.name} · ${pack.words.length} word${pack.words.length === 1 ? "" : "s"}`;
      const list = document.createElement("ul");
      list.className = "word-chips";
      for (const word of pack.words) {
        const item = document.createElement("li");
        item.textContent = word;
        list.append(item);
      }
      section.append(title, list);
      return section;
    }),
  );
}
