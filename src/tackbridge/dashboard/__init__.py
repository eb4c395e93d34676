"""The dashboard: server-rendered pages (Jinja2) for the people who answer the leads, signed in
with a user of ``tackbridge.users``.

``auth`` (sessions, sign-in throttling), ``csrf``, ``access`` (what a member may see),
``live`` (server-sent events telling an open page that its data changed), ``templating``,
``pages/`` (one module per page; ``pages.ROUTERS`` lists them) and ``web`` (``install``: the
routers, the static files and the error pages on the app). The pages call the features'
services (leads, conversations, jobstatus, ...) and never repeat their rules.
"""
