import asyncio
import time

from camserver.loopwatch import LoopMonitor


def test_lag_counts_a_stall_even_before_the_monitor_wakes_up():
    async def scenario():
        monitor = LoopMonitor(interval=0.01)
        monitor.start()
        await asyncio.sleep(0.05)
        quiet = monitor.lag_total()
        time.sleep(0.3)  # the loop is blocked: nothing else runs
        during = monitor.lag_total()  # measured right after, before the monitor's timer runs
        await asyncio.sleep(0.05)
        after = monitor.lag_total()
        monitor.stop()
        return quiet, during, after, monitor.status()

    quiet, during, after, status = asyncio.run(scenario())
    assert 0.29 < during - quiet < 0.5
    assert after - during < 0.2  # the stall is counted once, not again when the timer runs
    assert status["loop_stalls_total"] == 1 and status["loop_lag_max_ms"] >= 250
