"""`snakemake --report`: what comes from the config is shown as literal text, never read as reStructuredText
(a prompt text's `.. include::` copying a file into the report, `.. raw:: html` running script, links to
`javascript:`) and never able to end the report's own <script> elements."""

import json
import re
from html.parser import HTMLParser

from conftest import read_config, snakemake, write_config

PAYLOAD = ("x\n\n.. include:: /etc/passwd\n\n.. raw:: html\n\n   <img src=x onerror=alert(1)>\n\n"
           "`x <javascript:alert(2)>`_ javascript:alert(5) |sub| </script><script>alert(7)</script>")


class Tags(HTMLParser):
    """Every tag with its attributes, and the text inside <pre>."""

    def __init__(self):
        super().__init__()
        self.tags, self.pre, self.in_pre = [], "", False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.in_pre |= tag == "pre"

    def handle_endtag(self, tag):
        self.in_pre &= tag != "pre"

    def handle_data(self, data):
        if self.in_pre:
            self.pre += data


def report_results(page: str) -> dict:
    """The report's `var results = {...};`: every item with its caption (HTML) and job properties."""
    return json.loads(re.search(r"^\s*var results = (\{.*\});$", page, re.MULTILINE).group(1))


def test_config_text_in_the_report_is_literal(built_copy):
    cfg = read_config(built_copy)
    the_cat = next(p for p in cfg["prompts"] if isinstance(p, dict) and p.get("id") == "the-cat")
    the_cat["text"] = PAYLOAD  # the still stays (the report reads the files there), its caption is the new text's
    write_config(built_copy, cfg)
    snakemake(built_copy, "--report", "report.html", check=True)
    page = (built_copy / "report.html").read_text()
    assert "root:x:0:0" not in page  # /etc/passwd was not included
    assert "</script><script>alert(7)" not in page  # no <script> of the report ends early

    still = report_results(page)["results/seed/the-cat/attention.png"]
    caption = Tags()
    caption.feed(still["caption"])
    assert {tag for tag, _ in caption.tags} <= {"p", "tt", "span", "pre"}, caption.tags  # no <img>, <a>, <script>
    assert all(set(attrs) <= {"class"} for _, attrs in caption.tags), caption.tags
    assert "system-message" not in still["caption"] and "javascript:" not in still["caption"].split("<pre")[0]
    assert caption.pre.strip("\n") == PAYLOAD  # the text, whole and as written
    # the job's params as the report lists them: the same text, "<" written \x3c (Python's syntax for it)
    assert repr(PAYLOAD).replace("<", "\\x3c")[1:-1] in still["job_properties"]["params"]
    assert report_results(page)["results/summary.csv"]["job_properties"]["params"].count("\\x3c/script>") == 2
