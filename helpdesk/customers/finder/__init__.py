"""Finding customers: full-text search, the customer list (page and API), its export and
bulk actions. The filter itself (query arguments to SQL) is ``customers.search``."""
