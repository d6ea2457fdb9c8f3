"""DORA metrics (DESIGN §8): the five keys from the plane's own records, with versioned bands."""
