"""A restream target's figures as /metrics shows them: one series per target, the last error
as a label (masked, escaped, cut) with its time. The live tests check them against real
targets; this one checks the text format without any process."""

import time

from camserver.outputs.restream import MAX_ERROR_LABEL, RestreamManager, RestreamOutput

KEY = "s3cretKeyInAnError"


def manager(*urls: str) -> RestreamManager:
    restreams = RestreamManager({"cam": urls}, "ffmpeg")
    restreams.outputs["cam"] = RestreamOutput("cam", urls, "ffmpeg")
    return restreams


def samples(text: str) -> dict[str, float]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return {line.rpartition(" ")[0]: float(line.rpartition(" ")[2]) for line in lines}


def test_a_target_without_error_has_its_figures_and_no_error_series():
    text = manager(f"rtmp://nginx.lan/live/{KEY}").metrics_text()
    labels = 'camera="cam",target="rtmp://nginx.lan/live/***"'
    got = samples(text)
    assert got[f"camserver_restream_connected{{{labels}}}"] == 0
    assert got[f"camserver_restream_bytes_total{{{labels}}}"] == 0
    assert got[f"camserver_restream_last_error_timestamp_seconds{{{labels}}}"] == 0
    assert not [k for k in got if k.startswith("camserver_restream_last_error{")]
    assert KEY not in text
    assert "# TYPE camserver_restream_bytes_total counter" in text


def test_the_last_error_is_a_masked_escaped_label_with_its_time():
    restreams = manager(f"rtmp://nginx.lan/live/{KEY}", "srt://mtx:8890?streamid=publish:k2")
    first, second = restreams.outputs["cam"].targets
    before = time.time()
    first._failed(None, f'rtmp://nginx.lan/live/{KEY}: "Connection refused"\\' + "x" * 500)
    text = restreams.metrics_text()
    assert KEY not in text and "publish:k2" not in text
    got = samples(text)
    labels = 'camera="cam",target="rtmp://nginx.lan/live/***"'
    errors = [k for k in got if k.startswith("camserver_restream_last_error{")]
    assert len(errors) == 1 and got[errors[0]] == 1
    label = errors[0].split('error="', 1)[1].rsplit('"', 1)[0]
    assert label.startswith('rtmp://nginx.lan/live/***: \\"Connection refused\\"\\\\xxx'), label
    assert len(label) - len(label.rstrip("x")) == MAX_ERROR_LABEL - len('rtmp://nginx.lan/live/***: "Connection '
                                                     'refused"\\')
    at = got[f"camserver_restream_last_error_timestamp_seconds{{{labels}}}"]
    assert before - 0.001 <= at <= time.time() + 0.001  # to the millisecond
    assert got[f"camserver_restream_failures_total{{{labels}}}"] == 1
    other = 'camera="cam",target="srt://mtx:8890?streamid=***"'
    assert got[f"camserver_restream_last_error_timestamp_seconds{{{other}}}"] == 0
    assert got[f"camserver_restream_failures_total{{{other}}}"] == 0
