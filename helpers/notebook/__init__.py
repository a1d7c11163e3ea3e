"""Notebook plumbing: what runs a lesson without being one.

The live server (a WSGI app on 127.0.0.1 in a background thread), the HTTP display
(exchanges printed as raw messages), the course clock, self-checking exercises, the
Redis launcher, the round-robin balancer, and headless Chromium on one browser thread
(:mod:`.chromium`, with :mod:`.browser` and :mod:`.webauthn_tabs` built on it).
"""
