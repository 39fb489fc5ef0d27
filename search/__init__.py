"""Search agents behind one interface (issue 5)."""
