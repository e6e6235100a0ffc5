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


def test_a_script_run_here_captures_its_own_output_only(tmp_path, capsys):
    """The post-render script runs in the build's process; a progress display or the
    preview's server writing from another thread meanwhile is not swallowed."""
    from bpsreport.render.scripts import _run_python_here

    release = threading.Event()
    script = tmp_path / "post-render.py"
    script.write_text("import os, sys, time\n"
                      "print('script says', os.environ['QUARTO_PROFILE'], sys.argv[1:])\n"
                      "sys.stderr.write('script warns\\n')\n"
                      "open('started', 'w').close()\n"
                      "while not os.path.exists('released'):\n"
                      "    time.sleep(0.01)\n", encoding="utf-8")

    def other_thread():
        while not (tmp_path / "started").exists():
            release.wait(0.01)
        print("progress line")
        (tmp_path / "released").touch()

    worker = threading.Thread(target=other_thread)
    worker.start()
    code, output = _run_python_here(str(script), ["a", "b"], env={"QUARTO_PROFILE": "zh"},
                                    cwd=tmp_path)
    worker.join()
    assert code == 0
    assert output == "script says zh ['a', 'b']\nscript warns\n"
    assert "progress line" in capsys.readouterr().out
