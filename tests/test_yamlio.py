"""The fast YAML reader reads what ``yaml.safe_load`` reads and fails where it fails,
with the same message, line and column."""

import io

import pytest
import yaml

from bpsreport import yamlio

GOOD = [
    "title: 2017年工作总结\nlang: zh\n",
    "a: [1, 2.5, '3']\nb: {c: null, d: true}\nwhen: 2017-12-31\n",
    "list:\n  - 一\n  - two\n",
    "",
]
BAD = [
    "title: [unclosed\nlang: zh\n",
    "a: 1\n b: 2\n",
    "key: 'quote\nnext: 1\n",
    "- a\nb: c\n",
    "x: !!python/object:os.system ls\n",
]


@pytest.mark.parametrize("text", GOOD)
def test_reads_what_safe_load_reads(text):
    assert yamlio.safe_load(text) == yaml.safe_load(text)
    assert yamlio.safe_load(io.StringIO(text)) == yaml.safe_load(text)


@pytest.mark.parametrize("text", BAD)
def test_fails_with_safe_loads_message_and_position(text):
    with pytest.raises(yaml.YAMLError) as expected:
        yaml.safe_load(text)
    with pytest.raises(yaml.YAMLError) as got:
        yamlio.safe_load(text)
    assert str(got.value) == str(expected.value)
    want = getattr(expected.value, "problem_mark", None)
    mark = getattr(got.value, "problem_mark", None)
    assert (mark.line, mark.column) == (want.line, want.column)
