"""The spectator TV and the phone in real Chromium: parties of 2 to 16 phones, measured on screen.

Each game is a real room on the real gateway with real phone clients (``phones.py``: 390x844
canvases, real Quick, Draw! apples). The TV page is measured at 1280x720 and 1920x1080 with what the
browser laid out and painted: no scrollbar, every card on screen, every drawing filling its card (ink
pixels read back from the canvas), every name whole at a readable size.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from inference.formats import DrawingRecord, read_ndjson
from tests.web.conftest import LiveServer, Page
from tests.web.phones import PhoneParty, on_phone

ME = "window.doodleParty.app"
TV_SIZES = ((1280, 720), (1920, 1080))
# Names of the lengths people type, the longest ones where they hurt most (the last cards).
NAMES = (
    "Ana", "Kwame", "Chiara", "Dmitri", "Esperanza", "Fumiko", "Gwendolyn", "Hiroshi",
    "Ingrid", "Jacqueline", "Mateo", "Leopoldine", "Nkechi", "Oluwaseun", "Priyanka", "Bartholomew",
)  # fmt: skip
# Which sizes each party is photographed at for docs/web-client.md (every size is measured).
SCREENSHOTS = {2: [(1280, 720)], 6: [(1920, 1080)], 12: [(1280, 720)], 16: [(1280, 720), (1920, 1080)]}
# A TV is read from across a room: names no smaller than this (CSS px), and never cut short.
MIN_NAME_PX = 14
# "Fills its card": the ink spans this much of the drawing box along its constraining side...
MIN_INK_SPAN = 0.8
# ...and the drawing box is this much of the card (the rest: name, guesses, padding).
MIN_CANVAS_SHARE = 0.5

# Everything the assertions need, measured in the page in one go.
MEASURE_TV = """
const root = document.documentElement;
const inside = (r) =>
  r.left >= 0 && r.top >= 0 && r.right <= innerWidth + 0.5 && r.bottom <= innerHeight + 0.5;
const cards = [...document.querySelectorAll('#tv-grid .tv-card')].map((card) => {
  const canvas = card.querySelector('canvas');
  const box = canvas.getBoundingClientRect();
  const rect = card.getBoundingClientRect();
  // The painted ink, read back from the canvas's pixels (device pixels -> CSS pixels).
  const context = canvas.getContext('2d');
  const { data, width, height } = context.getImageData(0, 0, canvas.width, canvas.height);
  let minX = width, minY = height, maxX = -1, maxY = -1;
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      if (data[(y * width + x) * 4 + 3] > 0) {
        if (x < minX) minX = x; if (x > maxX) maxX = x; if (y < minY) minY = y; if (y > maxY) maxY = y;
      }
    }
  }
  const ratio = canvas.width / box.width;
  const name = card.querySelector('.name');
  return {
    name: name.textContent,
    card: [rect.left, rect.top, rect.width, rect.height],
    onScreen: inside(rect),
    clipped: card.scrollHeight > card.clientHeight + 1 || card.scrollWidth > card.clientWidth + 1,
    box: [box.width, box.height],
    ink: maxX < 0 ? null : [(maxX - minX + 1) / ratio, (maxY - minY + 1) / ratio],
    nameFontPx: parseFloat(getComputedStyle(name).fontSize),
    nameCut: name.scrollWidth > name.clientWidth,
  };
});
return {
  scrollbar: root.scrollHeight > root.clientHeight || root.scrollWidth > root.clientWidth,
  viewport: [innerWidth, innerHeight],
  columns: getComputedStyle(document.querySelector('#tv-grid')).gridTemplateColumns.split(' ').length,
  density: document.querySelector('#tv-grid').dataset.density,
  // The scoreboard makes way for the drawings when they would be small (each card shows its score).
  side: document.querySelector('.tv-side').offsetParent === null ? 'hidden'
    : inside(document.querySelector('.tv-side').getBoundingClientRect()) ? 'on screen' : 'off screen',
  cards,
};
"""

MEASURE_PODIUM = """
const card = document.querySelector('.tv-overlay-card').getBoundingClientRect();
const lines = [...document.querySelectorAll('#tv-overlay .podium li')]
  .map((li) => li.getBoundingClientRect());
const inside = (r) =>
  r.top >= card.top && r.bottom <= card.bottom && r.left >= card.left && r.right <= card.right;
return {
  lines: lines.length,
  inside: lines.every((r) => inside(r) && r.bottom <= innerHeight),
  scrollbar: document.documentElement.scrollHeight > innerHeight,
};
"""


def wait_frames(page: Page, frames: int = 3) -> None:
    """Let the page lay out and paint (ResizeObserver, then the repaint it schedules)."""
    page.driver.execute_async_script(
        "const done = arguments[arguments.length - 1]; let left = arguments[0];"
        "const step = () => (--left <= 0 ? done() : requestAnimationFrame(step));"
        "requestAnimationFrame(step);",
        frames,
    )


def resize(page: Page, width: int, height: int, scale: float = 1.0) -> None:
    page.driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": width < 600},
    )
    page.wait(f"innerWidth === {width} && innerHeight === {height}", f"the {width}x{height} viewport")
    wait_frames(page)


def assert_tv_fits(measured: dict[str, Any], players: int) -> None:
    """The layout facts a TV must hold, with what was measured in the message when one fails."""
    size = "x".join(str(side) for side in measured["viewport"])
    assert not measured["scrollbar"], f"{size}, {players} players: the page scrolls"
    assert measured["side"] != "off screen", f"{size}: the scoreboard leaves the screen"
    if players <= 6:
        assert measured["side"] == "on screen", f"{size}: a small party keeps its scoreboard"
    cards = measured["cards"]
    assert len(cards) == players
    for card in cards:
        where = f"{size}, {players} players, {card['name']}'s card"
        assert card["onScreen"], f"{where} leaves the screen: {card['card']}"
        assert not card["clipped"], f"{where} is cut off inside"
        assert card["nameFontPx"] >= MIN_NAME_PX, f"{where}: name at {card['nameFontPx']} px"
        assert not card["nameCut"], f"{where}: the name is cut short"
        box_w, box_h = card["box"]
        card_w, card_h = card["card"][2:]
        assert box_w * box_h >= MIN_CANVAS_SHARE * card_w * card_h, f"{where}: drawing box {card['box']}"
        assert card["ink"] is not None, f"{where}: nothing painted"
        ink_w, ink_h = card["ink"]
        span = max(ink_w / box_w, ink_h / box_h)  # aspect kept: one side fills, the other fits
        assert span >= MIN_INK_SPAN, f"{where}: the drawing spans {span:.0%} of its box ({card['ink']})"
        assert ink_w <= box_w + 1 and ink_h <= box_h + 1


@pytest.fixture
def phones(live_server: LiveServer) -> Iterator[Callable[[], PhoneParty]]:
    parties: list[PhoneParty] = []

    def party() -> PhoneParty:
        parties.append(PhoneParty(f"ws://127.0.0.1:{live_server.port}/"))
        return parties[-1]

    yield party
    for each in parties:
        each.close()


@pytest.fixture(scope="module")
def apples(quickdraw_dir: Path) -> list[DrawingRecord]:
    """Sixteen real Quick, Draw! apples, all different (recognized or not: people vary)."""
    return [
        record
        for _, record in zip(
            range(16), read_ndjson(quickdraw_dir / "simplified" / "apple.ndjson.gz"), strict=False
        )
    ]


@pytest.fixture(scope="module")
def cloud(quickdraw_dir: Path) -> DrawingRecord:
    """A real cloud: the host draws the wrong thing, so the round runs until the test is done."""
    return next(iter(read_ndjson(quickdraw_dir / "simplified" / "cloud.ndjson.gz")))


def wait_drawings_settled(tv: Page, player_ids: list[str]) -> None:
    """Every phone's drawing reached the TV, and no more points are coming."""
    tv.wait(
        f"{ME}.room.phase !== 'lobby'"
        f" && {json.dumps(player_ids)}.every(id => {ME}.room.drawings.get(id)?.pointCount > 0)",
        "every drawing on the TV",
        timeout=30,
    )
    total = "return [...window.doodleParty.app.room.drawings.values()].reduce((n, d) => n + d.pointCount, 0)"
    last = -1
    while (now := tv.js(total)) != last:
        last = now
        time.sleep(0.5)


@pytest.mark.parametrize("players", [2, 6, 12, 16])
def test_tv_fits_a_party_of_phones(
    open_page: Callable[..., Page],
    phones: Callable[[], PhoneParty],
    apples: list[DrawingRecord],
    cloud: DrawingRecord,
    players: int,
) -> None:
    """Phone drawings fill their TV cards; 2-16 players fit 720p and 1080p with whole names, no scrolling."""
    party = phones()
    code = party.create(
        NAMES[0],
        {"rounds": 1, "round_seconds": 120, "results_seconds": 60, "max_players": 16, "words": ["apple"]},
    )
    party.join(code, NAMES[1:players])

    tv = open_page(*TV_SIZES[0]).open(f"?spectate={code}")
    tv.wait(f"{ME}.view === 'tv' && {ME}.room.players.length === {players}", "the TV to see everyone")
    assert not tv.visible("#tv-body") and tv.visible("#tv-code")
    if players == 16:
        # The lobby's sixteen names and the code fit the TV too.
        for width, height in TV_SIZES:
            resize(tv, width, height)
            assert tv.js("return document.documentElement.scrollHeight <= innerHeight")
            assert tv.js("return document.querySelectorAll('#tv-lobby-players li').length") == 16
        tv.screenshot("tv-lobby-16-players")
        resize(tv, *TV_SIZES[0])

    party.host_sends({"type": "start_game"}, "game_started")
    assert party.wait_round(1) == "apple"
    # The host draws a cloud (never the word, so the round stays open); the others draw apples.
    drawings = [on_phone(cloud.strokes)] + [on_phone(record.strokes) for record in apples[: players - 1]]
    party.draw(drawings, 1)
    wait_drawings_settled(tv, party.player_ids())
    assert tv.js(f"return {ME}.room.drawings.get(arguments[0]).canvas", party.player_ids()[0]) == [390, 844]

    for width, height in TV_SIZES:
        resize(tv, width, height)
        measured = tv.js(MEASURE_TV)
        assert_tv_fits(measured, players)
        if (width, height) in SCREENSHOTS[players]:
            tv.screenshot(f"tv-{width}x{height}-{players}-players")
    if players == 6:
        # A phone as the spectator screen scrolls down a column of cards, never sideways.
        resize(tv, 390, 844, scale=2)
        measured = tv.js(MEASURE_TV)
        assert tv.js("return document.documentElement.scrollWidth <= innerWidth")
        for card in measured["cards"]:
            assert card["ink"] is not None and not card["nameCut"], card
            span = max(ink / box for ink, box in zip(card["ink"], card["box"], strict=True))
            assert span >= MIN_INK_SPAN, f"390x844: {card['name']}'s drawing spans {span:.0%} of its box"


def test_tv_final_scores_of_sixteen_fit(
    open_page: Callable[..., Page],
    phones: Callable[[], PhoneParty],
    apples: list[DrawingRecord],
    cloud: DrawingRecord,
) -> None:
    """Game over with sixteen players: the winner and every final score are on both TV screens."""
    party = phones()
    code = party.create(
        NAMES[0],
        {"rounds": 1, "round_seconds": 5, "results_seconds": 1, "max_players": 16, "words": ["apple"]},
    )
    party.join(code, NAMES[1:])
    tv = open_page(*TV_SIZES[0]).open(f"?spectate={code}")
    tv.wait(f"{ME}.view === 'tv' && {ME}.room.players.length === 16", "the TV to see everyone")
    party.host_sends({"type": "start_game"}, "game_started")
    party.wait_round(1)
    party.draw([on_phone(cloud.strokes)] + [on_phone(record.strokes) for record in apples[:15]], 1)
    tv.wait(f"{ME}.room.phase === 'game_over'", "the game to end", timeout=30)
    tv.wait("!document.querySelector('#tv-overlay').hidden", "the final scores")
    for width, height in TV_SIZES:
        resize(tv, width, height)
        measured = tv.js(MEASURE_PODIUM)
        assert measured == {"lines": 16, "inside": True, "scrollbar": False}, f"{width}x{height}: {measured}"
    tv.screenshot("tv-game-over-16-players")


def test_phone_round_keeps_the_drawing_clear(
    open_page: Callable[..., Page],
    phones: Callable[[], PhoneParty],
    apple_drawings: list[DrawingRecord],
) -> None:
    """On a 390x844 phone: the room's words in the lobby, the pad on screen, "Recognized!" off the drawing."""
    party = phones()
    code = party.create("Ana", {"rounds": 1, "round_seconds": 60, "results_seconds": 30})
    phone = open_page(390, 844, scale=2).open()
    assert not phone.visible("#net"), "no connection state before the first connection"
    phone.fill("#name", "Bo")
    phone.fill("#join-code", code)
    phone.click("#join-button")
    phone.wait(f"{ME}.room && {ME}.room.phase === 'lobby'", "the lobby")
    assert phone.visible("#net") and phone.text("#net") == "online"

    words = phone.js(f"return {ME}.room.settings.words")
    assert len(words) >= 2, "a room made with defaults plays every word the model knows"
    shown = phone.js("return [...document.querySelectorAll('#lobby-words li')].map(li => li.textContent)")
    assert shown == sorted(words)
    assert phone.visible("#lobby-words")
    phone.screenshot("lobby-player-phone")
    party.host_sends({"type": "update_settings", "settings": {"words": ["apple"]}}, "settings_changed")
    phone.wait("document.querySelectorAll('#lobby-words li').length === 1", "the new word list")
    assert phone.text("#lobby-words li") == "apple"

    party.host_sends({"type": "start_game"}, "game_started")
    phone.wait(f"{ME}.room.phase === 'round'", "the round")
    phone.wait("!document.querySelector('#pad').classList.contains('is-disabled')", "the pad")
    assert phone.js(
        "const r = document.querySelector('#pad').getBoundingClientRect();"
        "return r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth"
    ), "the whole pad is on screen without scrolling"
    phone.draw("#pad", apple_drawings[0].strokes, kind="touch")
    phone.wait("!document.querySelector('#pad-overlay').hidden", "the recognition")
    assert "Recognized!" in phone.text("#pad-overlay")
    overlap = phone.js(
        "const a = document.querySelector('#pad').getBoundingClientRect();"
        "const b = document.querySelector('#pad-overlay').getBoundingClientRect();"
        "return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;"
    )
    assert not overlap, "the banner covers the drawing"
    assert phone.js("return document.documentElement.scrollWidth <= innerWidth")
    phone.screenshot("round-player-phone-390x844")


def test_practice_lists_words(open_page: Callable[..., Page]) -> None:
    """Practice lists which words exist: the server's word packs (list_packs), each titled, classic first."""
    page = open_page(390, 844, scale=2).open()
    page.fill("#name", "Cy")
    page.click("#practice-button")
    page.wait(f"{ME}.view === 'practice'", "practice")
    page.wait("document.querySelectorAll('#practice-words .word-pack').length > 2", "the packs listed")
    titles = page.js(
        "return [...document.querySelectorAll('#practice-words .pack-name')].map(e => e.textContent)"
    )
    assert titles[0].startswith("Classic 20 · 20 words")
    assert any(title.startswith("Animals") for title in titles)
    classic = page.js(
        "return [...document.querySelector('#practice-words .word-pack').querySelectorAll('li')]"
        ".map(li => li.textContent)"
    )
    assert "apple" in classic and "ice cream" in classic and len(classic) == 20


def test_grid_choice_matches_a_brute_force(open_page: Callable[..., Page]) -> None:
    """layout.js picks a grid whose drawings are as large as the best of every possible grid."""
    page = open_page(800, 600).open()
    cases = [
        (count, width, height)
        for count in (1, 2, 3, 5, 6, 7, 9, 12, 13, 16)
        for width, height in ((1000, 600), (1500, 900), (600, 1000), (300, 300))
    ]
    chrome = {"gap": 10, "chromeWidth": 20, "chromeHeight": 60}
    chosen = page.driver.execute_async_script(
        "const [cases, chrome, done] = arguments;"
        "import('/layout.js').then((m) => done(cases.map(([n, w, h]) => m.bestGrid(n, w, h, chrome))));",
        cases,
        chrome,
    )
    for (count, width, height), grid in zip(cases, chosen, strict=True):
        best = 0.0
        for columns in range(1, count + 1):
            rows = -(-count // columns)
            cell_w = (width - 10 * (columns - 1)) / columns
            cell_h = (height - 10 * (rows - 1)) / rows
            best = max(best, min(cell_w - 20, cell_h - 60))
        assert grid["columns"] * grid["rows"] >= count
        assert abs(grid["side"] - max(0.0, best)) <= 0.5, (count, width, height, grid)
