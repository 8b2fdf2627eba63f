"""The web dashboard: static pages (docs/dashboard.md) and `testgenie ui`, their server for any API."""
