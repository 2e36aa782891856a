"""The demo behind ``make demo``: the shipped CSV, Meltano runs, the warehouse report."""
