"""SQL adapters: engine and sessions, table rows, and the stores built on them."""
