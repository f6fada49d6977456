"""Moving in: bulk loading of customers, organizations and orders from CSV files."""
