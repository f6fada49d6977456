"""Entry points of the background processes: the RQ worker and the scheduler."""
