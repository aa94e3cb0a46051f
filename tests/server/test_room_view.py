"""The room view as a protocol object: envelopes in, effects out; no sockets, no Redis, no clock."""

from __future__ import annotations

import msgpack

from game import rules
from game.commands import (
    ChangeSettings,
    Command,
    Disconnect,
    JoinRoom,
    KickPlayer,
    LeaveRoom,
    Reconnect,
    RecordRecognition,
    Rematch,
    StartGame,
    Tick,
)
from game.state import Role, RoomState
from server.envelopes import (
    CommitEnvelope,
    GuessEnvelope,
    StrokeEnvelope,
    commit_tail,
    decode_envelope,
    encode_guess,
    stroke_tail,
)
from server.event_codec import EVENT_TYPES
from server.room_view import ClearDrawings, ForgetRecognitions, RoomView, Send, SetTimer, Unseat
from tests.game.helpers import CODE, T0, make_settings, new_room


class Room:
    """The committed history of one room, as a store would publish it: each step one envelope."""

    def __init__(self, **settings: object) -> None:
        self.state: RoomState = new_room(make_settings(**settings))
        self.version = 1

    def commit(self, command: Command, now: float) -> CommitEnvelope:
        self.state, events = rules.apply(self.state, command, now)
        self.version += 1
        return CommitEnvelope(self.version, self.state, tuple(events))

    def stroke(self, player_id: str, seq: int, end: bool = False) -> StrokeEnvelope:
        round_number = self.state.round.number if self.state.round is not None else 0
        points = [[1.0, 2.0, 0.0]]
        return StrokeEnvelope(
            self.version, seq, player_id, self.state.game_number, round_number, 0, points, end, None
        )


def _sends(effects: list[object]) -> list[tuple[str, tuple[str, ...]]]:
    """(message type, recipients) of each Send, in order."""
    return [(e.frame.message["type"], e.to) for e in effects if isinstance(e, Send)]


def _view_with(room: Room, *seats: tuple[str, Role]) -> RoomView:
    """A view that knows `room` as it is, with these members seated and their snapshots sent."""
    view = RoomView(CODE)
    view.learn(room.state, room.version + 1)  # as if the last commit's echo had been acted on
    view.version = room.version
    for player_id, role in seats:
        view.seat(player_id, role)
        view.snapshot_sent(player_id, room.version, (0, 0, 0))
    return view


def test_a_commit_is_acted_on_once_in_version_order() -> None:
    """A commit seen again (or covered by a learned state) gives nothing."""
    room = Room()
    view = _view_with(room, ("ana", Role.PLAYER))
    joined = room.commit(JoinRoom("bob", "Bob"), T0 + 1)
    assert _sends(view.receive(joined)) == [("player_joined", ("ana",))]
    assert view.receive(joined) == []
    assert view.state == room.state and view.version == room.version


def test_strokes_published_before_a_round_ends_go_out_before_its_end() -> None:
    """Frames leave in the channel's order, on the committing gateway too: the last strokes of a round
    reach the TV before "round_ended", never after it (or never, if the TV leaves at the end)."""
    room = Room(words=["apple"], rounds=1, round_seconds=20)
    view = _view_with(room, ("ana", Role.PLAYER), ("tv", Role.SPECTATOR))
    started = room.commit(StartGame("ana", seed=1), T0 + 2)
    stroke = room.stroke("ana", 1, end=True)
    ended = room.commit(Tick(), T0 + 60)
    frames = [sent for envelope in (started, stroke, ended) for sent in _sends(view.receive(envelope))]
    kinds = [kind for kind, to in frames if "tv" in to]
    assert kinds.index("stroke") < kinds.index("round_ended")


def test_a_fresh_view_learns_the_state_a_join_read_and_still_acts_on_its_echo() -> None:
    """The first member's join tells the view the room at once; the join's own echo still fans out."""
    room = Room(words=["apple"], rounds=1)
    room.commit(JoinRoom("bob", "Bob"), T0 + 1)
    view = RoomView(CODE)
    view.seat("ana", Role.PLAYER)  # ana's gateway saw nothing of this room before
    joined = room.commit(JoinRoom("tv", "TV", Role.SPECTATOR), T0 + 2)
    assert view.learn(room.state, joined.version) == [SetTimer(None)]
    assert view.state == room.state
    assert view.learn(Room().state, 99) == []  # only a fresh view learns
    view.seat("tv", Role.SPECTATOR)
    assert _sends(view.receive(joined)) == []  # held for both: their snapshots are being read
    assert _sends(view.snapshot_sent("ana", joined.version - 1, (0, 0, 0))) == [("player_joined", ("ana",))]
    assert _sends(view.snapshot_sent("tv", joined.version, (0, 0, 0))) == []


def test_frames_are_held_until_the_snapshot_and_what_it_covered_is_skipped() -> None:
    """A member seated while its snapshot is read gets, after it, only what the snapshot did not show."""
    room = Room()
    view = _view_with(room, ("ana", Role.PLAYER))
    view.seat("bob", Role.PLAYER)
    first = room.commit(JoinRoom("bob", "Bob"), T0 + 1)
    assert _sends(view.receive(first)) == [("player_joined", ("ana",))]
    second = room.commit(JoinRoom("cy", "Cy"), T0 + 2)
    assert _sends(view.receive(second)) == [("player_joined", ("ana",))]
    released = view.snapshot_sent("bob", first.version, (0, 0, 0))
    assert _sends(released) == [("player_joined", ("bob",))]
    assert released[0].frame.message["player_id"] == "cy"  # type: ignore[union-attr]


def test_a_round_start_clears_the_drawings_of_local_players_and_sets_the_timer() -> None:
    """Drawings and recognitions of this gateway's players go when a round starts; spectators have none."""
    room = Room(words=["apple"], rounds=1, round_seconds=20)
    room.commit(JoinRoom("bob", "Bob"), T0 + 1)
    room.commit(JoinRoom("tv", "TV", Role.SPECTATOR), T0 + 2)
    view = _view_with(room, ("bob", Role.PLAYER), ("tv", Role.SPECTATOR))
    started = room.commit(StartGame("ana", seed=1), T0 + 3)
    effects = view.receive(started)
    assert _sends(effects) == [("game_started", ("bob", "tv")), ("round_started", ("bob", "tv"))]
    assert ClearDrawings(("bob",)) in effects and ForgetRecognitions(("bob",)) in effects
    assert effects[-1] == SetTimer(rules.next_deadline(room.state))
    assert room.state.round is not None and effects[-1] == SetTimer(room.state.round.ends_at)


def test_the_same_envelopes_give_the_same_effects_on_every_gateway() -> None:
    """The committing gateway and a peer clear the same drawings through a rematch."""
    room = Room(words=["apple"], rounds=1, round_seconds=20)
    room.commit(JoinRoom("bob", "Bob"), T0 + 1)
    committer, peer = _view_with(room, ("bob", Role.PLAYER)), _view_with(room, ("bob", Role.PLAYER))
    steps = [
        room.commit(StartGame("ana", seed=1), T0 + 2),
        room.commit(RecordRecognition("bob", "apple", T0 + 3), T0 + 3),
        room.commit(RecordRecognition("ana", "apple", T0 + 4), T0 + 4),
        room.commit(Tick(), T0 + 60),
        room.commit(Rematch("ana"), T0 + 61),
        room.commit(StartGame("ana", seed=2), T0 + 62),
    ]
    for envelope in steps:
        here = committer.receive(envelope)
        assert committer.receive(envelope) == []
        there = peer.receive(envelope)
        assert [type(e) for e in here] == [type(e) for e in there]
        assert _sends(here) == _sends(there)
    cleared = [e for envelope in steps for e in _fresh_view_effects(envelope) if isinstance(e, ClearDrawings)]
    assert cleared  # a check that the comparison above covered round starts and ends


def _fresh_view_effects(envelope: CommitEnvelope) -> list[object]:
    """What a fresh view of the room before `envelope` makes of it (bob seated as a player)."""
    before = CommitEnvelope(envelope.version - 1, envelope.state, ())
    view = RoomView(CODE)
    view.learn(before.state, before.version + 1)
    view.seat("bob", Role.PLAYER)
    view.snapshot_sent("bob", before.version, (0, 0, 0))
    return list(view.receive(envelope))


def test_a_kicked_member_is_told_and_unseated_on_its_own_gateway() -> None:
    """The host kicks bob from another gateway: bob's gateway tells bob and gives up his seat."""
    room = Room()
    room.commit(JoinRoom("bob", "Bob"), T0 + 1)
    view = _view_with(room, ("bob", Role.PLAYER))
    effects = view.receive(room.commit(KickPlayer("ana", "bob"), T0 + 2))
    assert _sends(effects) == [("player_left", ("bob",)), ("left_room", ("bob",))]
    assert Unseat("bob") in effects and "bob" not in view.seats


def test_the_last_player_leaving_closes_the_room_for_spectators() -> None:
    """room_closed unseats every member left on this gateway."""
    room = Room()
    room.commit(JoinRoom("tv", "TV", Role.SPECTATOR), T0 + 1)
    view = _view_with(room, ("tv", Role.SPECTATOR))
    effects = view.receive(room.commit(LeaveRoom("ana"), T0 + 2))
    assert ("room_closed", ("tv",)) in _sends(effects)
    assert Unseat("tv") in effects and view.seats == {}


def test_strokes_go_to_viewers_but_not_the_drawer_nor_what_a_snapshot_showed() -> None:
    """Spectators always see strokes, players when the room shows drawings; never the drawer itself."""
    for show in (True, False):
        room = Room(words=["apple"], rounds=1, show_drawings=show)
        room.commit(JoinRoom("bob", "Bob"), T0 + 1)
        room.commit(JoinRoom("tv", "TV", Role.SPECTATOR), T0 + 2)
        room.commit(StartGame("ana", seed=1), T0 + 3)
        view = _view_with(room, ("ana", Role.PLAYER), ("bob", Role.PLAYER), ("tv", Role.SPECTATOR))
        expected = ("bob", "tv") if show else ("tv",)
        assert _sends(view.receive(room.stroke("ana", 1))) == [("stroke", expected)]
    view.seat("late", Role.SPECTATOR)
    view.receive(room.stroke("ana", 2))
    view.receive(room.stroke("ana", 3))
    released = view.snapshot_sent("late", room.version, (room.state.game_number, 1, 2))
    assert [e.frame.message for e in released if isinstance(e, Send)] == [
        {
            "type": "stroke",
            "player_id": "ana",
            "game": 1,
            "round": 1,
            "stroke": 0,
            "points": [[1.0, 2.0, 0.0]],
            "end": False,
        }
    ]


def test_a_guess_goes_to_spectators_and_the_player() -> None:
    """Other players never see someone's guesses."""
    room = Room()
    room.commit(JoinRoom("bob", "Bob"), T0 + 1)
    room.commit(JoinRoom("tv", "TV", Role.SPECTATOR), T0 + 2)
    view = _view_with(room, ("ana", Role.PLAYER), ("bob", Role.PLAYER), ("tv", Role.SPECTATOR))
    effects = view.receive(GuessEnvelope("bob", 1, 1, (("apple", 0.9),)))
    assert _sends(effects) == [("guess", ("bob", "tv"))]


def test_envelopes_survive_their_wire_form() -> None:
    """Each envelope decodes to what was published, every kind of game event included."""
    room = Room(words=["apple"], rounds=1)
    envelopes = [
        room.commit(JoinRoom("bob", "Bob"), T0 + 1),
        room.commit(JoinRoom("tv", "TV", Role.SPECTATOR), T0 + 2),
        room.commit(
            ChangeSettings("ana", make_settings(words=["apple"], rounds=1, round_seconds=30)), T0 + 2
        ),
        room.commit(Disconnect("bob"), T0 + 2),
        room.commit(Reconnect("bob"), T0 + 2),
        room.commit(StartGame("ana", seed=1), T0 + 3),
        room.commit(RecordRecognition("bob", "apple", T0 + 4), T0 + 4),
        room.commit(Tick(), T0 + 60),
        room.commit(Tick(), T0 + 90),
        room.commit(Rematch("ana"), T0 + 91),
        room.commit(KickPlayer("ana", "bob"), T0 + 92),
        room.commit(JoinRoom("cy", "Cy"), T0 + 93),
        room.commit(LeaveRoom("ana"), T0 + 94),
        room.commit(LeaveRoom("cy"), T0 + 95),
    ]
    kinds = {type(event).__name__ for envelope in envelopes for event in envelope.events}
    assert kinds == set(EVENT_TYPES) - {"RoomCreated"}  # every event a commit can publish went through
    for envelope in envelopes:
        blob = msgpack.packb(envelope.state.to_dict(), use_bin_type=True)
        published = msgpack.packb(envelope.version) + commit_tail(envelope.events) + blob  # as COMMIT_ROOM
        assert decode_envelope(published) == envelope
    stroke = StrokeEnvelope(7, 3, "ana", 1, 1, 0, [[1.0, 2.0, 16.0]], True, [256.0, 256.0])
    published = (
        msgpack.packb(7)
        + msgpack.packb(3)
        + stroke_tail("ana", 1, 1, 0, [[1.0, 2.0, 16.0]], True, [256.0, 256.0])
    )
    assert decode_envelope(published) == stroke
    guess = GuessEnvelope("ana", 2, 1, (("apple", 0.5), ("cloud", 0.25)))
    assert decode_envelope(encode_guess(guess)) == guess
