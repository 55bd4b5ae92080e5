"""Presence rules (pure): syncs written only when needed, and timeouts that never misjudge a syncing user."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocol.presence import (
    OFFLINE,
    ONLINE,
    UNAVAILABLE,
    Cutoffs,
    PresenceTimers,
    UserPresence,
    after_set,
    after_sync,
    clients_hear,
    presence_content,
    sync_needs_writing,
    sync_target,
    timed_out,
)

TIMERS = PresenceTimers()
USER = "@alice:example.org"


def test_set_presence_on_sync_means_what_synapse_makes_of_it() -> None:
    assert [sync_target(value) for value in (None, "online", "unavailable", "offline")] == [
        ONLINE, ONLINE, UNAVAILABLE, None]


def test_a_sync_is_written_for_a_new_state_or_a_stale_record() -> None:
    now = 1_000_000
    fresh = after_sync(UserPresence(USER), ONLINE, now, 30_000)
    assert sync_needs_writing(UserPresence(USER), ONLINE, now, 0, TIMERS), "offline to online"
    assert not sync_needs_writing(fresh, ONLINE, now + 1_000, 30_000, TIMERS)
    assert sync_needs_writing(fresh, UNAVAILABLE, now + 1_000, 30_000, TIMERS), "a new state"
    assert sync_needs_writing(fresh, ONLINE, now + 60_001, 0, TIMERS), "activity a minute stale"
    assert sync_needs_writing(fresh, ONLINE, now + 1_000, 120_000, TIMERS), "held open far past the record"
    unavailable = after_sync(UserPresence(USER), UNAVAILABLE, now, 0)
    assert unavailable.last_active_ts == 0, "an unavailable sync is no activity"
    assert not sync_needs_writing(unavailable, UNAVAILABLE, now + 60_000, 0, TIMERS)


def test_timeouts_idle_then_offline() -> None:
    now = 1_000_000
    online = after_set(UserPresence(USER), ONLINE, "here", now)
    assert timed_out(online, Cutoffs.at(now + 30_000, TIMERS)) == online, "30 s: not yet past the timeout"
    assert timed_out(online, Cutoffs.at(now + 30_001, TIMERS)).state == OFFLINE, "never synced: 30 s"
    syncing = after_sync(online, ONLINE, now, 120_000)
    assert timed_out(syncing, Cutoffs.at(now + 120_000 + 90_000, TIMERS)) == syncing
    assert timed_out(syncing, Cutoffs.at(now + 120_000 + 90_001, TIMERS)).state == OFFLINE
    idle_soon = PresenceTimers(idle_timeout_ms=90_000)
    assert timed_out(syncing, Cutoffs.at(now + 90_001, idle_soon)).state == UNAVAILABLE
    offline = after_set(UserPresence(USER), OFFLINE, None, now)
    assert timed_out(offline, Cutoffs.at(now + 10**9, TIMERS)) == offline, "offline has no timeouts"


def test_clients_hear_of_state_and_message_only() -> None:
    online = after_set(UserPresence(USER), ONLINE, None, 1_000)
    assert clients_hear(UserPresence(USER), online)
    assert not clients_hear(online, after_sync(online, ONLINE, 90_000, 30_000))
    assert clients_hear(online, after_set(online, ONLINE, "busy day", 2_000))
    assert presence_content(online, 5_000) == {"presence": "online", "last_active_ago": 4_000,
                                               "currently_active": True}
    assert presence_content(UserPresence(USER), 5_000) == {"presence": "offline"}


def test_online_users_are_currently_active_only_within_the_granularity_of_their_last_activity() -> None:
    online = after_set(UserPresence(USER), ONLINE, None, 1_000)
    granularity = TIMERS.last_active_granularity_ms
    assert presence_content(online, 1_000 + granularity)["currently_active"] is True
    later = presence_content(online, 1_001 + granularity)
    assert (later["currently_active"], later["last_active_ago"]) == (False, granularity + 1)
    away = presence_content(after_set(online, UNAVAILABLE, None, 2_000), 3_000)
    assert "currently_active" not in away and away["last_active_ago"] == 2_000


# A client's sync loop: each sync may wait up to `wait` ms, answers after `held` of them, then the next one starts
# `gap` ms later, always within the sync online timeout.
SYNCS = st.lists(st.tuples(st.integers(0, 120_000), st.floats(0, 1), st.integers(0, 29_999)), min_size=1,
                 max_size=40)


@given(SYNCS)
def test_a_user_who_keeps_syncing_is_never_timed_out_and_goes_offline_once_they_stop(
        syncs: list[tuple[int, float, int]]) -> None:
    recorded, now, claimed = UserPresence(USER), 1_000_000, 0
    for wait, fraction, gap in syncs:
        if sync_needs_writing(recorded, ONLINE, now, wait, TIMERS):
            recorded = after_sync(recorded, ONLINE, now, wait)
        claimed = max(claimed, now + wait)
        answered = now + int(wait * fraction)
        for moment in (now, answered, answered + gap):
            assert timed_out(recorded, Cutoffs.at(moment, TIMERS)) == recorded, moment - now
        now = answered + gap
    # No more syncs: offline at most a granularity and a timeout after the longest-held sync could have ended.
    gone = claimed + TIMERS.last_active_granularity_ms + TIMERS.sync_online_timeout_ms + 1
    assert timed_out(recorded, Cutoffs.at(gone, TIMERS)).state == OFFLINE
