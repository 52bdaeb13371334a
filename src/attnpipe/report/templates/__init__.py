"""The HTML pages' Jinja2 templates (index.html.j2, summary.html.j2 and what they include), shipped as
package data so a web person can edit them as HTML, CSS and JavaScript. Autoescaping is on for every
template: a prompt's text or a weight setting's name is always HTML-escaped, never trusted.

Their text counts as this package's code (attnpipe.store.provenance), so editing a template reruns the pages.
"""

import jinja2

ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("attnpipe.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,  # a misspelt name fails the job instead of leaving a blank
    keep_trailing_newline=True,
)


def render(name: str, **context) -> str:
    return ENVIRONMENT.get_template(name).render(**context)


def macro(template: str, name: str):
    """A macro of a template, callable from Python (its result is escaped markup)."""
    return getattr(ENVIRONMENT.get_template(template).module, name)
