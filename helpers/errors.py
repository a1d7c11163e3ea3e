"""Old import path, kept for existing notebooks: the code lives in :mod:`helpers.http`."""

from helpers.http import install_json_errors, json_error, no_content  # noqa: F401
