"""The read side of history for people: filters and cursors, scenario health, statistics, compare."""
