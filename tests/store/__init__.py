"""The evidence store (app.store) on real SQLite files and real JPEGs."""
