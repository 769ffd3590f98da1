"""Chaos runs of the local stack: faults in Box and in our functions, and the invariants after."""
