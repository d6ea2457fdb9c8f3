"""`opsctl audit`: list, show, verify and export the hash-chained audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from controlplane.cli._common import (
    EXIT_REFUSED,
    JsonOpt,
    ServiceOpt,
    emit_json,
    fail,
    plane,
    show_record,
    table,
)
from controlplane.cli.grammar import EnvFilterOpt, env_name, noun
from controlplane.errors import NotFound

if TYPE_CHECKING:
    from controlplane.audit.chain import VerifyReport

app = noun("List, show, verify and export the hash-chained audit log.")

Opt = typer.Option


@app.command("list")
def list_records(
    actor: Annotated[str | None, Opt(help="Only this actor.")] = None,
    operation: Annotated[str | None, Opt(help="Only this operation.")] = None,
    env: EnvFilterOpt = None,
    service: ServiceOpt = None,
    result: Annotated[str | None, Opt(help="requested, success, failure, halted, ...")] = None,
    since: Annotated[str | None, Opt(help="From this ISO time (UTC).")] = None,
    until: Annotated[str | None, Opt(help="Before this ISO time (UTC).")] = None,
    cursor: Annotated[int | None, Opt(help="Next page: the cursor printed last time.")] = None,
    limit: Annotated[int, Opt(help="Records per page (max 1000).")] = 50,
    newest_first: Annotated[bool, Opt("--newest-first", help="Newest records first.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """List audit records with filters, one page at a time."""
    with plane() as client:
        page = client.audit(
            actor=actor,
            operation=operation,
            environment=env_name(env),
            service=service,
            result=result,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
            order="desc" if newest_first else "asc",
        )
    if json_out:
        emit_json(page)
        return
    rows = [
        (
            r["seq"],
            r["timestamp"][:19],
            r["agent"],
            r["operation"],
            r.get("environment"),
            r.get("service"),
            r.get("mode"),
            r["result"],
        )
        for r in page["data"]
    ]
    headers = ("seq", "time (utc)", "agent", "operation", "env", "service", "mode", "result")
    typer.echo(table(headers, rows))
    if page.get("next_cursor") is not None:
        typer.echo(f"more: --cursor {page['next_cursor']}")


@app.command("show")
def show_audit_record(
    seq: Annotated[int, typer.Argument(help="Record number (SEQ as `audit list` prints it).")],
    json_out: JsonOpt = False,
) -> None:
    """Show one audit record with every field, nested ones as indented lines."""
    with plane() as client:
        page = client.audit(cursor=max(seq - 1, 0), limit=1, order="asc")
        record = next((r for r in page["data"] if r["seq"] == seq), None)
        if record is None:
            raise NotFound(f"no audit record {seq}")
    head = f"audit record {record['seq']}: {record['operation']} -> {record['result']}"
    show_record(record, json_out, head, ("seq", "operation", "result"))


@app.command("verify")
def verify(
    file: Annotated[
        Path | None,
        Opt("--file", "-f", help="Verify an exported JSONL copy offline instead of the plane."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check the chain: each record's hash, order and gaps (and signed checkpoints on the plane)."""
    if file is not None:
        _verify_file(file, json_out)
        return
    with plane() as client:
        out = client.verify_audit()
    if json_out:
        emit_json(out)
    else:
        typer.echo(out["summary"])
        typer.echo(f"head {out['head_hash']} at seq {out['last_seq']}")
        for problem in out["problems"]:
            typer.echo(f"  {problem}")
    if not out["ok"]:
        raise typer.Exit(EXIT_REFUSED)


def _verify_file(path: Path, json_out: bool) -> None:
    """Verify an export line by line with the same rules the plane uses."""
    from controlplane.audit.chain import verify_lines

    numbered = _read_jsonl(path)
    report = verify_lines(obj for _, obj in numbered)
    located = [
        _locate(p.seq, numbered) | {"kind": p.kind, "detail": p.detail} for p in report.problems
    ]
    if json_out:
        emit_json(
            {
                "ok": report.ok,
                "file": str(path),
                "records": report.records,
                "last_seq": report.last_seq,
                "head_hash": report.head_hash,
                "problems": located,
            }
        )
    else:
        _print_file_report(path, report, located)
    if not report.ok:
        raise typer.Exit(EXIT_REFUSED)


def _print_file_report(path: Path, report: VerifyReport, located: list[dict[str, Any]]) -> None:
    """Say whether the file's chain holds and, if not, exactly which records broke it."""
    status = "chain verified" if report.ok else f"chain BROKEN ({len(located)} problem(s))"
    typer.echo(f"{path}: {report.records:,} records, {status}")
    for p in located:
        typer.echo(
            f"  record {p['seq']} (line {p['line']}, audit_id {p['audit_id']}, "
            f"{p['operation']}): {p['kind']}: {p['detail']}"
        )
    typer.echo(f"head {report.head_hash} at seq {report.last_seq}")
    if report.ok:
        typer.echo(
            "a file alone cannot show a cut-off tail: compare this head with "
            "`opsctl audit verify` on the plane"
        )


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Parse an export into (line number, record); a line that is not a JSON object fails."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None
    out: list[tuple[int, dict[str, Any]]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            raise fail(f"{path}:{number}: not JSON ({exc}); the export was altered") from None
        if not isinstance(obj, dict):
            raise fail(f"{path}:{number}: not a JSON object; the export was altered")
        out.append((number, obj))
    return out


def _locate(seq: int, numbered: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """Find the record with this seq in the file: its line, id and operation."""
    for number, obj in numbered:
        if obj.get("seq") == seq:
            return {
                "seq": seq,
                "line": number,
                "audit_id": obj.get("audit_id"),
                "operation": obj.get("operation"),
            }
    return {"seq": seq, "line": None, "audit_id": None, "operation": None}


@app.command("export")
def export(
    output: Annotated[
        Path | None, Opt("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Export the whole log as JSONL with the seed field names (always JSON; --json is a no-op)."""
    del json_out
    with plane() as client:
        if output is None:
            for line in client.export_audit():
                typer.echo(line)
            return
        count = 0
        with output.open("w", encoding="utf-8") as fh:
            for line in client.export_audit():
                fh.write(line + "\n")
                count += 1
    typer.echo(f"wrote {count} records to {output}", err=True)
