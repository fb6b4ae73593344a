"""The API gateway (FastAPI): the one signed JSON API every channel calls."""
