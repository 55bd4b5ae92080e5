"""Received events that cite more auth events than the selection would pick (Synapse accepts them, and SyTest's
remote server sends them): ignored when asked, still refused by default; the other rules about auth events hold
either way."""

from __future__ import annotations

import pytest

from protocol.auth import AuthError, check_auth_against_auth_events
from protocol.events.model import Event
from tests.protocol.factories import ALICE, standard_room, version


def _message_citing_join_rules(room_version: int) -> tuple[Event, list[Event], Event]:
    room = standard_room(version(room_version))
    room.join(ALICE)
    join_rules = room.state[("m.room.join_rules", "")]
    cited = [*room.auth_events_for(ALICE, "m.room.message", None, {}), join_rules]
    message = room.event(ALICE, "m.room.message", {"body": "hi"},
                         auth_events=[event.event_id for event in cited] if room_version > 2 else
                         [[event.event_id, {}] for event in cited])
    return message, cited, room.create


@pytest.mark.parametrize("room_version", [1, 10, 12])
def test_an_unexpected_auth_event_is_refused_by_default_and_ignored_when_asked(room_version: int) -> None:
    message, cited, create = _message_citing_join_rules(room_version)
    with pytest.raises(AuthError):
        check_auth_against_auth_events(message, cited, create_event=create)
    check_auth_against_auth_events(message, cited, create_event=create, ignore_unexpected=True)


def test_an_ignored_auth_event_must_still_not_be_rejected() -> None:
    message, cited, create = _message_citing_join_rules(10)
    join_rules = cited[-1]
    with pytest.raises(AuthError):
        check_auth_against_auth_events(message, cited, create_event=create, ignore_unexpected=True,
                                       rejected_event_ids={join_rules.event_id})
