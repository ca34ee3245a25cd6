"""Permissions as the config file writes them: ``action`` or ``action:camera-glob``."""

import pytest

from camserver.access.permissions import ACTIONS, Grants, Permission


@pytest.mark.parametrize("text, action, pattern", [
    ("read", "read", "*"),
    ("read:*", "read", "*"),
    ("control:desk", "control", "desk"),
    ("playback:garden-*", "playback", "garden-*"),
    ("publish:cam[12]", "publish", "cam[12]"),
    ("status", "status", "*"),
    ("metrics", "metrics", "*"),
])
def test_a_permission_is_an_action_and_a_camera_glob(text, action, pattern):
    assert Permission.parse(text) == Permission(action, pattern)


@pytest.mark.parametrize("text, message", [
    ("watch:*", "unknown action 'watch'"),
    ("Read", "unknown action 'Read'"),
    ("", "unknown action ''"),
    ("status:desk", "'status' takes no camera pattern"),
    ("metrics:*", "'metrics' takes no camera pattern"),
    ("read:../etc", "bad camera pattern '../etc'"),
    ("read:desk cam", "bad camera pattern"),
    ("read:" + "a" * 65, "bad camera pattern"),
    (3, "must be a string"),
])
def test_a_bad_permission_says_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        Permission.parse(text)


def test_grants_name_the_key_of_a_bad_entry():
    with pytest.raises(ValueError, match=r"user\[0\]\.allow: unknown action 'raed'"):
        Grants.parse(["read:*", "raed:*"], "user[0].allow")
    with pytest.raises(ValueError, match="must be a list"):
        Grants.parse("read:*", "user[0].allow")


def test_globs_match_whole_camera_ids_case_sensitively():
    grants = Grants.of("read:garden-*", "control:desk", "playback:cam?", "status")
    assert grants.allows("read", "garden-1") and grants.allows("read", "garden-")
    assert not grants.allows("read", "my-garden-1")   # the whole id, not a substring
    assert not grants.allows("read", "Garden-1")      # ids are case-sensitive
    assert grants.allows("control", "desk") and not grants.allows("control", "desk2")
    assert grants.allows("playback", "cam1") and not grants.allows("playback", "cam10")
    assert not grants.allows("read", "desk") and not grants.allows("control", "garden-1")
    assert grants.allows("status") and not grants.allows("metrics")
    assert not grants.allows("publish", "desk")


def test_without_a_camera_the_question_is_whether_any_camera_is_allowed():
    grants = Grants.of("read:lobby")
    assert grants.allows("read")           # a page or a listing: some camera may be read
    assert not grants.allows("control")
    assert not Grants().allows("read")


def test_no_pattern_means_every_camera_and_actions_on_lists_them_in_order():
    grants = Grants.of("read", "control:desk", "playback:*")
    assert grants.allows("read", "anything_at-all")
    assert grants.actions_on("desk") == ["read", "control", "playback"]
    assert grants.actions_on("lobby") == ["read", "playback"]
    assert (Grants.of("read:desk") | Grants.of("control:desk")).actions_on("desk") == \
        ["read", "control"]
    assert set(ACTIONS) == {"publish", "read", "control", "playback", "status", "metrics"}
