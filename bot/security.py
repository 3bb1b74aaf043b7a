"""Security headers on every response the app gives (console, simulator, webhook, health).

One Content-Security-Policy for every page: no inline script or style anywhere, every
asset a file served by the app (no CDN), nothing may frame us. Pages that show
personal data (console, simulator) are never cached.
"""

from __future__ import annotations

from flask import Flask, request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
PRIVATE_PREFIXES = ("/console/", "/simulator/")
STATIC_MARK = "/static/"
HSTS = "max-age=31536000"


def add_security_headers(response):
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    if request.is_secure:  # behind HTTPS (a trusted proxy's X-Forwarded-Proto counts)
        headers["Strict-Transport-Security"] = HSTS
    if request.path.startswith(PRIVATE_PREFIXES) and STATIC_MARK not in request.path:
        headers["Cache-Control"] = "no-store"  # personal data must not linger in a shared PC's cache
    headers.pop("Server", None)
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
