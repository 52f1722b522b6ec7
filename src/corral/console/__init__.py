"""The web console at ``/console``: server-rendered pages (Jinja2) over corral's own operations, signed in with an
API key kept in a sealed HTTP-only cookie, with a small script of our own for the live timeline.

``ConsoleDispatch`` (``corral.console.app``) is what ``corral.api.app`` mounts. The package ships its templates and
static files; nothing is fetched from elsewhere at run time and no Node is needed.
"""
