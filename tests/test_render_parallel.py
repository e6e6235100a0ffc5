"""The built-in renderer typesets the PDFs while the pages render; the PDFs' progress is
held until the pages are done, so what a person reads comes in the usual order."""

import threading

from bpsreport.render.builtin import _HeldEvents


def test_pdf_events_wait_for_the_pages_then_pass_in_order():
    heard = []
    events = _HeldEvents(lambda done, total, item="": heard.append((done, total, item)))
    events(0, 2)
    workers = [threading.Thread(target=events.finished, args=(name,))
               for name in ("zh/report.pdf", "en/report.pdf")]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert heard == []  # the pages are still rendering
    events.release()
    assert heard[0] == (0, 2, "")
    assert [e[0] for e in heard[1:]] == [1, 2]
    assert {e[2] for e in heard[1:]} == {"zh/report.pdf", "en/report.pdf"}
    events.finished("late.pdf")  # after the release, events pass at once
    assert heard[-1] == (3, 2, "late.pdf")


def test_no_listener_is_fine():
    events = _HeldEvents(None)
    events(0, 1)
    events.finished("zh/report.pdf")
    events.release()
    assert events.done == 1
