"""The application: one module per domain; plain async functions over the viewer."""
