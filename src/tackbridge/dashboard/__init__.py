"""The dashboard: server-rendered pages (Jinja2) for the people who answer the leads, signed in
with a user of ``tackbridge.users``.

``auth`` (sessions, sign-in throttling), ``csrf``, ``access`` (what a member may see),
``staff`` (who may open the settings pages), ``live`` (server-sent events telling an open page
that its data changed), ``templating`` (over ``templates/``; markup the pages share is a macro
of ``templates/_macros.html``), ``charts`` (the insights page's pygal SVG), ``destination_form``
(the CRM form, from the destination registry), ``price_clock`` (the business hours a lead's
Price Assurance clock runs on), ``pages/`` (one module per page; ``pages.ROUTERS`` lists them)
and ``web`` (``install``: the routers, the static files and the error pages on the app). The
pages call the features' services (leads, conversations, jobstatus, ...) and never repeat their
rules.
"""
