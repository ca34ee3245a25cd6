import pytest

from camserver.messages import BadMessage, parse_object


@pytest.mark.parametrize("text, reason", [
    ("{not json", "not-json"),
    ("[" * 100_000, "not-json"),                        # RecursionError inside json.loads
    ('{"a":' * 30_000 + "1" + "}" * 30_000, "not-json"),
    ("[1, 2]", "not-object"),
    ('"text"', "not-object"),
    ("x" * 70_000, "too-long"),
    (b"\xff\xfe garbage", "not-json"),
])
def test_bad_messages_are_refused_with_a_reason(text, reason):
    with pytest.raises(BadMessage) as refused:
        parse_object(text, 200_000 if reason != "too-long" else 65_536)
    assert refused.value.reason == reason


def test_a_good_object_is_returned():
    assert parse_object('{"type": "ping", "t": 1}', 100) == {"type": "ping", "t": 1}
