"""Governed delivery: deployment gates, the deployment state machine and its API (DESIGN §5)."""
