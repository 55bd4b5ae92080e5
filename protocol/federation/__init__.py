"""The Server-Server API's pure rules: server names, X-Matrix request signatures, published server keys.

No I/O here: ``federation_client`` does the HTTP and DNS, ``web.federation`` the inbound endpoints.
"""
