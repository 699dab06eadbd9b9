"""The API's routes, one module per area; ``api/app.py`` puts them together."""
