"""pytest configuration. The shared helpers themselves are in tests/support.py."""
