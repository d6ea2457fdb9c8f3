"""The group-commit engine behind the audit recorder: one SQL append, a writer thread or process.

Domains never import this package; they write through `controlplane.audit.recorder.Recorder`.
"""
