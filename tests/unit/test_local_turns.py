"""The embedded moto's turns: one request at a time, in the order they arrived, and a long poll leaves its turn."""

from __future__ import annotations

import threading
import time

from nxbridge_dev.local.moto_server import Turns


def test_requests_take_their_turns_one_at_a_time_in_arrival_order() -> None:
    turns = Turns()
    order: list[int] = []
    inside = 0
    most_inside = 0
    counting = threading.Lock()

    def request(n: int) -> None:
        nonlocal inside, most_inside
        with turns:
            with counting:
                inside += 1
                most_inside = max(most_inside, inside)
            order.append(n)
            time.sleep(0.002)
            with counting:
                inside -= 1

    threads = []
    with turns:  # held while the others queue up, one after another
        for n in range(20):
            thread = threading.Thread(target=request, args=(n,))
            thread.start()
            threads.append(thread)
            time.sleep(0.005)
    for thread in threads:
        thread.join(timeout=10)

    assert order == list(range(20))
    assert most_inside == 1


def test_a_waiting_request_lets_the_next_one_run_and_queues_up_again() -> None:
    turns = Turns()
    events: list[str] = []
    polling = threading.Event()

    def long_poll() -> None:
        with turns:
            events.append("poll starts")
            with turns.waiting():
                polling.set()
                time.sleep(0.05)
            events.append("poll ends")

    def send() -> None:
        polling.wait(5)
        with turns:
            events.append("send")

    threads = [threading.Thread(target=long_poll), threading.Thread(target=send)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert events == ["poll starts", "send", "poll ends"]


def test_outside_a_turn_waiting_leaves_nothing() -> None:
    turns = Turns()
    with turns.waiting():
        pass
    with turns:  # the turn is still free
        pass
