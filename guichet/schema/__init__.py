"""GraphQL only: types, inputs, the @requires directive, and the root assembly (see root.py)."""
