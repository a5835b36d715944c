"""Double-random spot checks (双随机): the auditable draw, the fair assignment of inspectors and
the verification of a stored plan."""
