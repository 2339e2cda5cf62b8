"""The LAN-only HTTP surface: status API, login, metrics and the dashboard (SPEC: HTTP API).

Layers, outermost first: the LAN guard (address allowlist, body limits, security
headers) → the login gate (session cookie or API token on every route but
/api/health and the login/setup step) → the routes. Nothing here reaches past the
service's public methods.
"""
