"""The engine's Prometheus figures: own registry, bounded labels, fed by call events."""

import asyncio
import threading
import time

from prometheus_client.parser import text_string_to_metric_families

from ivr import events as ev
from ivr.obs.metrics import EngineMetrics, agi_label
from ivr.obs.pool import BusyCountingExecutor


def samples(m: EngineMetrics) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(m.exposition().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_two_engines_do_not_share_figures():
    a, b = EngineMetrics(), EngineMetrics()
    a.on_event("u", "c", ev.End(outcome="answered"))
    assert samples(a)[("ivr_calls_total", (("outcome", "answered"),))] == 1.0
    assert ("ivr_calls_total", (("outcome", "answered"),)) not in samples(b)


def test_call_events_feed_counters_and_histograms():
    m = EngineMetrics()
    for event in (ev.End(outcome="caller_hangup"), ev.Triage(urgency=1), ev.Triage(urgency=None),
                  ev.RedFlag(lane="crisis"),
                  ev.AgentConnect(queue="pharmacy", holdtime="12"),
                  ev.QueueCallerAbandon(queue="pharmacy", holdtime="40"),
                  ev.AgentConnect(queue="pharmacy", holdtime=None),  # no holdtime: skipped
                  ev.VoiceCue(score=0.8, baseline=0.1, rising=True)):
        m.on_event("u", "c", event)
    got = samples(m)
    assert got[("ivr_calls_total", (("outcome", "caller_hangup"),))] == 1
    assert got[("ivr_triage_decisions_total", (("urgency", "1"),))] == 1
    assert got[("ivr_triage_decisions_total", (("urgency", "none"),))] == 1
    assert got[("ivr_red_flags_total", (("lane", "crisis"),))] == 1
    assert got[("ivr_queue_wait_seconds_count",
                (("queue", "pharmacy"), ("result", "answered")))] == 1
    assert got[("ivr_queue_wait_seconds_sum",
                (("queue", "pharmacy"), ("result", "abandoned")))] == 40
    assert got[("ivr_voice_cues_total", (("rising", "yes"),))] == 1


def test_gauges_read_the_engine_at_scrape_time():
    m = EngineMetrics()
    active = {"x": "call-1"}
    m.bind(active=lambda: len(active), backlog=lambda: 7, ami_up=lambda: True,
           agi_sessions=lambda: 1, audio_streams=lambda: 2, asr_busy=lambda: 1,
           asr_workers=2, maxload=6.0)
    assert samples(m)[("ivr_calls_active", ())] == 1
    active.clear()
    got = samples(m)
    assert got[("ivr_calls_active", ())] == 0
    assert got[("ivr_write_behind_backlog", ())] == 7
    assert got[("ivr_ami_logged_in", ())] == 1
    assert got[("ivr_asr_workers", ())] == 2 and got[("ivr_pbx_maxload", ())] == 6


def test_agi_latency_is_labelled_by_verb_never_arguments():
    m = EngineMetrics()
    m.observe_agi('GET VARIABLE "IVR_CALL_ID"', 0.002)
    m.observe_agi('EXEC Queue "pharmacy,,,,300"', 30.0)
    got = samples(m)
    assert got[("ivr_agi_command_seconds_count", (("command", "GET VARIABLE"),))] == 1
    assert got[("ivr_agi_command_seconds_count", (("command", "EXEC Queue"),))] == 1
    assert agi_label('SET VARIABLE "X" "13800138000"') == "SET VARIABLE"
    assert agi_label("") == "?"


def test_recognition_time_from_turns():
    class T:
        def __init__(self, end, decoded):
            self.end_of_speech_at, self.decoded_at = end, decoded

    m = EngineMetrics()
    m.observe_turns([T(10.0, 10.4), T(None, 3.0), T(5.0, None), T(2.0, 1.0)])
    got = samples(m)
    assert got[("ivr_recognition_seconds_count", ())] == 1
    assert abs(got[("ivr_recognition_seconds_sum", ())] - 0.4) < 1e-9


async def test_event_loop_lag_is_sampled():
    m = EngineMetrics()
    m.start()
    await asyncio.sleep(0.1)
    time.sleep(0.8)  # noqa: ASYNC251  # blocks the loop on purpose: that is the lag
    await asyncio.sleep(0.1)
    await m.stop()
    assert samples(m)[("ivr_event_loop_lag_max_seconds", ())] >= 0.2


def test_busy_counting_pool():
    pool = BusyCountingExecutor(2, "t")
    go = threading.Event()
    futures = [pool.submit(go.wait, 5) for _ in range(2)]
    deadline = time.monotonic() + 5
    while pool.busy < 2 and time.monotonic() < deadline:
        pass
    assert pool.busy == 2
    go.set()
    for f in futures:
        assert f.result(5) is True
    assert pool.busy == 0
    pool.shutdown()
