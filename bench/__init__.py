"""make bench: measured performance against the peers (see bench/run.py and issue 7)."""
