"""The gallery: the recipes as web pages for people (``/``, ``/recipes/{id}``, ``/jobs/{id}``).

Thin like the API: it reads the store and the job records, renders Jinja2 templates with
autoescape on, and starts jobs through the same ``build_job`` + ``service.start`` as the
API. ``gallery.py`` holds the pure parts (search, filters, facts), ``routes.py`` the routes.
"""

from batchcook.web.routes import mount_gallery

__all__ = ["mount_gallery"]
