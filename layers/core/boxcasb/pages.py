"""The plain HTML pages the OAuth callback answers with. Every dynamic value is escaped."""

from __future__ import annotations

from html import escape

from boxcasb.connect import CallbackOutcome, CallbackResult

_STATUS = {
    CallbackResult.CONNECTED: 200,
    CallbackResult.DENIED: 200,
    CallbackResult.BAD_STATE: 400,
    CallbackResult.FAILED: 502,
}

_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto;
       padding: 0 1rem; line-height: 1.5; }}
.ok {{ color: #0a6b2d; }} .bad {{ color: #a4161a; }}
</style>
</head>
<body>
<main>
<h1 class="{css}">{title}</h1>
<p>{message}</p>
<p><strong>Next:</strong> {next_step}</p>
{details}
</main>
</body>
</html>
"""


def render_outcome(outcome: CallbackOutcome) -> tuple[int, str]:
    details = ""
    if outcome.connection is not None:
        c = outcome.connection
        rows = [
            ("Connection", c.connection_id),
            ("Enterprise", c.enterprise_name or c.enterprise_id or ""),
            ("Admin", c.admin_login or ""),
            ("Role", c.role or ""),
        ]
        details = "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows) + "</dl>"
    html = _TEMPLATE.format(
        title=escape(outcome.title),
        css="ok" if outcome.result is CallbackResult.CONNECTED else "bad",
        message=escape(outcome.message),
        next_step=escape(outcome.next_step),
        details=details,
    )
    return _STATUS[outcome.result], html
