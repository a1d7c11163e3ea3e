"""Old import path, kept for notebooks that use it: see the module it re-exports."""

from helpers.http import install_json_errors, json_error, no_content  # noqa: F401
