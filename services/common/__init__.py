"""Code shared by the three ML services: artifacts, serving, prediction log, drift, C/C gates."""
