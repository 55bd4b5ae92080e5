"""The HTTP tier: a Flask application factory, one blueprint per API surface, auth, errors and CORS.

Web workers read through ``persistence`` and hand stream writes to ``tasks.api``; any worker serves any endpoint.
"""
