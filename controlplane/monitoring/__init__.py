"""Monitoring as code: the Prometheus and Alertmanager configuration the plane ships in `ops/`."""
