import pytest

from camserver.ingest.control import ControlError, config_message


def test_valid_settings_become_one_message():
    assert config_message({"framesize": "vga", "quality": 80, "fps": 30, "vflip": False,
                           "hmirror": True}) == {
        "type": "config", "framesize": "VGA", "quality": 80, "fps": 30, "vflip": False,
        "hmirror": True}


@pytest.mark.parametrize("request_body, message", [
    ({}, "expected a JSON object"),
    ([1], "expected a JSON object"),
    ({"framesize": "8K"}, "framesize must be one of"),
    ({"quality": 0}, "quality must be an integer from 1 to 100"),
    ({"quality": True}, "quality must be an integer"),
    ({"fps": 31}, "fps must be an integer from 1 to 30"),
    ({"vflip": 1}, "vflip must be true or false"),
    ({"brightness": 2}, "unknown setting 'brightness'"),
])
def test_bad_settings_say_what_is_allowed(request_body, message):
    with pytest.raises(ControlError, match=message):
        config_message(request_body)
