"""The reference web client in a real headless Chromium against a real gateway and the real model."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable

import pytest

from inference.formats import DrawingRecord
from tests.web.conftest import LiveServer, Page
from tests.wire_contract import contract_errors

# Records the JSON frames the page sends, so tests can check them against docs/protocol.md.
SPY_ON_SOCKET = """
const socket = window.doodleParty.connection.socket;
window.sentFrames = [];
const send = socket.send.bind(socket);
socket.send = (data) => { window.sentFrames.push([performance.now(), JSON.parse(data)]); send(data); };
"""

ME = "window.doodleParty.app"


def create_room(page: Page, name: str, settings: dict[str, str]) -> str:
    page.fill("#name", name)
    for selector, value in settings.items():
        page.fill(selector, value)
    page.click("#create-button")
    return str(page.wait(f"{ME}.room && {ME}.room.code", "the room to be created"))


def join_room(page: Page, name: str, code: str) -> None:
    page.fill("#name", name)
    page.fill("#join-code", code)
    page.click("#join-button")


def test_gateway_serves_the_client(live_server: LiveServer) -> None:
    """/ and /?spectate=CODE serve the page; modules come as JavaScript with caching headers."""
    for path, content_type in (
        ("", "text/html"),
        ("?spectate=ABCDE", "text/html"),
        ("app.js", "text/javascript"),
        ("client/index.js", "text/javascript"),
        ("client/client.js", "text/javascript"),
        ("style.css", "text/css"),
        ("favicon.svg", "image/svg+xml"),
    ):
        with urllib.request.urlopen(live_server.http_url + path, timeout=5) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith(content_type), path
            assert "max-age" in response.headers["Cache-Control"]


def test_a_round_is_played_watched_and_resumed(
    open_page: Callable[..., Page], apple_drawings: list[DrawingRecord]
) -> None:
    """Host and player play a round; a real apple is recognized, shown on the TV; a reload resumes."""
    host = open_page(1100, 900).open()
    host.screenshot("home")
    code = create_room(
        host, "Ana", {"#set-rounds": "1", "#set-seconds": "40", "#set-results": "3", "#set-words": "apple"}
    )
    host.wait("!document.querySelector('#panel-lobby').hidden", "the lobby")

    player = open_page(412, 860, scale=2).open()  # a phone: small and high-DPI
    join_room(player, "Bo", code)
    player.wait(f"{ME}.room && {ME}.room.players.length === 2", "the player to be seated")
    host.wait(f"{ME}.room.players.length === 2", "the host to see the player")
    assert "Bo" in host.text("#player-list")
    assert player.visible("#waiting-host") and not player.visible("#start-button")

    tv = open_page(1280, 800).open(f"?spectate={code.lower()}")
    tv.wait(f"{ME}.view === 'tv' && {ME}.room.role === 'spectator'", "the TV to join as a spectator")
    assert tv.text("#tv-code").replace("-", "") == code
    host.wait(
        "document.querySelector('#spectator-count').textContent.includes('1 watching')",
        "the host to see the TV",
    )
    host.screenshot("lobby-host")

    host.click("#start-button")
    for page in (host, player, tv):
        page.wait(f"{ME}.room.phase === 'round'", "the round to start")
    assert player.text("#word") == "apple"
    assert player.wait(
        "!document.querySelector('#pad').classList.contains('is-disabled')", "the pad to be enabled"
    )
    seconds_left = int(player.text("#timer").split(":")[1])
    assert 30 <= seconds_left <= 40, "the countdown follows the server's ends_at"
    assert tv.js("return document.querySelectorAll('.tv-card').length") == 2

    # The phone draws a real Quick, Draw! apple with its finger.
    player.js(SPY_ON_SOCKET)
    player.draw("#pad", apple_drawings[0].strokes, kind="touch")
    player.wait(
        f"{ME}.room.round.recognized.some(r => r.player_id === {ME}.playerId)", "the player to be recognized"
    )
    assert "Recognized!" in player.text("#pad-overlay")
    player.wait(
        "document.querySelectorAll('#my-guesses li.hit').length === 1", "its own live guesses to show apple"
    )

    frames = [frame for _, frame in player.js("return window.sentFrames")]
    assert [error for frame in frames for error in contract_errors(frame, "client")] == []
    strokes = [frame for frame in frames if frame["type"] == "stroke"]
    assert strokes, "the drawing was streamed"
    assert {frame["round"] for frame in strokes} == {1}
    # Strokes are numbered from 0, each ends once; the pad stops at the recognition, maybe mid-drawing.
    numbers = sorted({frame["stroke"] for frame in strokes})
    assert numbers == list(range(len(numbers))) and len(numbers) <= len(apple_drawings[0].strokes)
    assert [frame["stroke"] for frame in strokes if frame["end"]] == numbers, "one end:true per stroke"
    for frame in strokes:
        for x, y, t in frame["points"]:
            assert 0 <= x <= 1000 and 0 <= y <= 1000 and 0 <= t <= 40_000
    assert len(strokes) > len(numbers), "long strokes go out in several batches"
    sent_at: dict[int, float] = {}
    for at, frame in player.js("return window.sentFrames"):
        if frame["type"] == "stroke" and not frame["end"]:
            if frame["stroke"] in sent_at:
                assert at - sent_at[frame["stroke"]] >= 45, "batches go out at most every 50 ms"
            sent_at[frame["stroke"]] = at

    # The TV shows both canvases, the recognized one marked, with its guesses; the host hears of it.
    tv.wait("document.querySelectorAll('.tv-card.done').length === 1", "the TV to mark the recognition")
    tv.wait(
        "document.querySelector('.tv-card.done .guess-list li.hit') !== null", "the TV to show the guesses"
    )
    assert "1st" in tv.text(".tv-card.done .badge")
    assert tv.js(
        "return window.doodleParty.app.room.drawings.get(arguments[0]).pointCount > 10",
        player.js(f"return {ME}.playerId"),
    )
    host.wait(
        "document.querySelector('#feed').textContent.includes('Bo was recognized')", "the host to hear it"
    )
    player.screenshot("round-player-phone")

    # A reload resumes the seat, with the drawing and the recognition.
    player_id = player.js(f"return {ME}.playerId")
    player.driver.refresh()
    player.wait(f"{ME}.room && {ME}.room.phase === 'round'", "the reloaded page to resume its seat")
    assert player.js(f"return {ME}.playerId") == player_id
    assert player.js("return window.doodleParty.app.room.players.length") == 2
    player.wait("!document.querySelector('#pad-overlay').hidden", "the recognition to come back")
    assert "Recognized!" in player.text("#pad-overlay")
    assert player.js("return window.doodleParty.round.pad.drawing.pointCount") > 10, "its drawing came back"

    # So does the TV's: it resumes its spectator seat rather than joining again.
    tv.driver.refresh()
    tv.wait(f"{ME}.room && {ME}.room.role === 'spectator'", "the TV to resume")
    tv.wait("document.querySelectorAll('.tv-card.done').length === 1", "the TV to redraw the round")
    assert tv.text("#home-error") == ""

    # The host draws too (with a mouse); when everyone is recognized the round ends early.
    host.draw("#pad", apple_drawings[1].strokes, kind="mouse")
    tv.wait(f"{ME}.room.phase === 'round_results'", "the round to end")
    tv.wait("document.querySelectorAll('.tv-card.done').length === 2", "the TV to mark both")
    tv.screenshot("spectator-tv")
    player.wait(f"{ME}.room.phase === 'round_results'", "the results")
    assert "Bo" in player.text("#results-body") and "Ana" in player.text("#results-body")
    player.screenshot("results-player-phone")

    for page in (host, player, tv):
        page.wait(f"{ME}.room.phase === 'game_over'", "the game to end", timeout=10)
    assert not tv.js("return document.querySelector('#tv-overlay').hidden")
    assert host.visible("#rematch-button") and not player.visible("#rematch-button")
    scores = host.js(f"return {ME}.room.finalScores")
    assert [line["name"] for line in scores] == ["Bo", "Ana"], "Bo was recognized first"
    host.screenshot("game-over-host")

    host.click("#rematch-button")
    for page in (host, player, tv):
        page.wait(f"{ME}.room.phase === 'lobby'", "everyone back in the lobby")
    assert host.js(f"return {ME}.room.players.every(p => p.score === 0)")


def test_practice_guesses_a_real_drawing(
    open_page: Callable[..., Page], apple_drawings: list[DrawingRecord]
) -> None:
    """Practice mode sends recognize and shows the model's live guesses for a pen drawing."""
    page = open_page(900, 1000).open()
    page.fill("#name", "Cy")
    page.click("#practice-button")
    page.wait(f"{ME}.view === 'practice' && window.doodleParty.connection.ready", "practice mode")
    page.js(SPY_ON_SOCKET)
    page.draw("#practice-pad", apple_drawings[2].strokes, kind="pen")
    page.wait(
        "document.querySelector('#practice-guesses li .word')?.textContent === 'apple'",
        "apple as the top guess",
    )
    sent = [frame for _, frame in page.js("return window.sentFrames") if frame["type"] == "recognize"]
    assert sent and all(frame["canvas"] == [1000, 1000] and frame["id"] for frame in sent)
    page.screenshot("practice")
    page.click("#practice-clear")
    assert page.js("return window.doodleParty.app.practice.started") == 0


def test_errors_are_explained(open_page: Callable[..., Page]) -> None:
    """A wrong code, a missing room and a kicked player each get a clear message."""
    host = open_page(1000, 800).open()
    code = create_room(host, "Di", {"#set-rounds": "2"})
    player = open_page(412, 860).open()

    join_room(player, "Ed", "QQ0")
    player.wait(
        "document.querySelector('#home-error').textContent.includes('not a room code')", "invalid_room_code"
    )
    join_room(player, "Ed", "333-333" if code != "333333" else "444-444")
    player.wait(
        "document.querySelector('#home-error').textContent.includes('There is no room with that code')",
        "room_not_found",
    )
    player.screenshot("error-room-not-found")

    join_room(player, "Ed", code)
    host.wait(f"{ME}.room.players.length === 2", "the player to join")
    host.click("button.kick")
    assert host.text("button.kick") == "Sure?", "a kick asks for a second press"
    host.click("button.kick")
    player.wait(
        "document.querySelector('#home-error').textContent.includes('removed you')", "the kicked message"
    )
    host.wait(f"{ME}.room.players.length === 1", "the host to see the kick")
    join_room(player, "Ed", code)
    player.wait(
        "document.querySelector('#home-error').textContent.includes('cannot join it again')", "kicked"
    )


def test_server_gone_then_back(open_page: Callable[..., Page], start_server: Callable[..., object]) -> None:
    """When the gateway goes away the page says so and retries; when it is back the seat is resumed."""
    first = start_server()
    port = first.server.port  # type: ignore[attr-defined]
    page = open_page(1000, 800, base_url=f"http://127.0.0.1:{port}/").open()
    code = create_room(page, "Flo", {"#set-rounds": "1"})
    player_id = page.js(f"return {ME}.playerId")

    first.stop()  # type: ignore[attr-defined]
    page.wait("document.querySelector('#net').dataset.state === 'offline'", "the page to notice")
    page.wait("!document.querySelector('#banner').hidden", "the banner")
    assert "Reconnecting" in page.text("#banner-text")
    page.screenshot("server-gone")

    start_server(port)  # the same address again, the same Redis: rooms and sessions survived
    page.wait("document.querySelector('#net').dataset.state === 'online'", "the reconnection", timeout=25)
    page.wait(f"{ME}.room && {ME}.room.code === {json.dumps(code)}", "the seat to be resumed")
    assert page.js(f"return {ME}.playerId") == player_id


@pytest.mark.parametrize("width", [360])
def test_phone_layout_has_no_sideways_scroll(open_page: Callable[..., Page], width: int) -> None:
    """The home page fits a small phone and every control is reachable with Tab."""
    page = open_page(width, 740).open()
    assert page.js("return document.documentElement.scrollWidth <= window.innerWidth")
    focusable = page.js(
        "return [...document.querySelectorAll('#view-home button, #view-home input')]"
        ".filter(e => e.offsetParent !== null && e.tabIndex >= 0).length"
    )
    assert focusable >= 10


def test_host_changes_settings_in_the_lobby(open_page: Callable[..., Page]) -> None:
    """The host's settings form sends update_settings; every page shows the new settings."""
    host = open_page(1100, 900).open()
    code = create_room(host, "Gus", {"#set-rounds": "2"})
    player = open_page(412, 860).open()
    join_room(player, "Hal", code)
    player.wait(f"{ME}.room && {ME}.room.phase === 'lobby'", "the lobby")
    assert not player.visible("#settings-form"), "only the host edits settings"
    host.fill("#ls-rounds", "4")
    host.js("document.querySelector('#ls-show').click()")
    host.click("#settings-form button[type=submit]")
    player.wait(f"{ME}.room.settings.rounds === 4", "settings_changed")
    assert player.js(f"return {ME}.room.settings.show_drawings") is False
    assert player.text("#settings-summary").startswith("4 rounds")
    host.fill("#ls-rounds", "99")
    host.click("#settings-form button[type=submit]")
    host.wait("document.querySelector('#toasts').textContent.includes('must be 1 to 20')", "a local check")


def test_host_picks_a_word_pack_and_everyone_sees_its_words(open_page: Callable[..., Page]) -> None:
    """The lobby offers the server's word packs (list_packs); the one the host picks is what the room
    plays, and a player reads its title and words."""
    host = open_page(1100, 900).open()
    code = create_room(host, "Ida", {})
    host.wait(f"{ME}.packs && document.querySelectorAll('#ls-pack option').length > 2", "the packs")
    assert host.js("return document.querySelector('#ls-pack').value") == "classic"
    assert not host.visible("#ls-words-box"), "a pack hides the word check boxes"
    player = open_page(412, 860).open()
    join_room(player, "Jo", code)
    player.wait(f"{ME}.room && {ME}.room.phase === 'lobby'", "the lobby")
    assert "Classic 20" in player.text("#lobby-words")
    pick = (
        "const s = document.querySelector('#ls-pack'); s.value = '{}'; s.dispatchEvent(new Event('change'))"
    )
    host.js(pick.format("animals"))
    host.click("#settings-form button[type=submit]")
    player.wait(f"{ME}.room.settings.pack === 'animals'", "settings_changed with the pack")
    animals = host.js(f"return {ME}.packs.packs.find(p => p.name === 'animals').words.map(w => w.word)")
    assert player.js(f"return {ME}.room.settings.words") == animals
    assert "Animals" in player.text("#lobby-words") and "cat" in animals
    host.js(
        "const s = document.querySelector('#ls-pack'); s.value = ''; s.dispatchEvent(new Event('change'))"
    )
    assert host.visible("#ls-words-box"), "your own words: the check boxes"


def test_two_tvs_and_a_tv_that_lost_its_place(
    open_page: Callable[..., Page], start_server: Callable[..., object], redis_for_web: object
) -> None:
    """Two TVs watch one room (both called "TV"); when the server comes back without a TV's place,
    the TV watches again from the code in its URL, and its banner never spoke of a held seat."""
    import redis

    from server.sessions import session_key

    first = start_server()
    port = first.server.port  # type: ignore[attr-defined]
    base = f"http://127.0.0.1:{port}/"
    host = open_page(1000, 800, base_url=base).open()
    code = create_room(host, "Ivy", {"#set-rounds": "1"})
    tvs = [open_page(1280, 720, base_url=base).open(f"?spectate={code}") for _ in range(2)]
    for tv in tvs:
        tv.wait(f"{ME}.room && {ME}.room.role === 'spectator'", "the TV to be watching")
    host.wait(f"{ME}.room.spectators.length === 2", "two TVs")

    first.stop()  # type: ignore[attr-defined]
    tv = tvs[0]
    tv.wait("!document.querySelector('#banner').hidden", "the banner")
    banner = tv.text("#banner-text")
    assert "seat" not in banner and "watching" in banner, banner
    tv_id = tv.js(f"return {ME}.playerId")
    store = redis.Redis.from_url(redis_for_web.url)  # type: ignore[attr-defined]
    store.hset(session_key(tv_id), mapping={"room": "", "role": ""})  # its place is gone
    store.close()
    start_server(port)
    tv.wait(f"{ME}.room && {ME}.room.code === {json.dumps(code)}", "the TV to watch again", timeout=25)
    assert tv.js(f"return {ME}.room.role") == "spectator"
