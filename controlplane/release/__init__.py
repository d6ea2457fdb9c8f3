"""Local releases: signed, audited bundles of a trained model, pinned as `<name>@sha256:<digest>`.

A bundle in `<state_dir>/releases/<service>/<digest>/` is what the local workload backend runs,
so the digest-pinning and security-audit gates mean the same thing as for OCI images (DESIGN §5).
"""
