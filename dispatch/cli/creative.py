"""``dispatch creative``: submit, list, show, approve and reject partner creatives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dispatch.cli.context import ROW_ID, AppContext, emit_json, json_option, pass_app
from dispatch.creatives import services
from dispatch.creatives.bundle import bundle_from_zip
from dispatch.creatives.models import CreativeVersion
from dispatch.creatives.problems import BundleRejected
from dispatch.db.engine import session_scope
from dispatch.rendering.preview import write_preview

_BUNDLE = click.Path(exists=True, path_type=Path)


@click.group("creative")
def group() -> None:
    """Creatives: partner bundles of letter and e-mail templates (docs/creatives.md).

    A submitted bundle is validated completely, stored as a new version and waits
    for staff to approve or reject it. An approved version never changes.
    """


def _summary(version: CreativeVersion) -> dict[str, Any]:
    creative = version.creative
    return {
        "id": version.id,
        "partner": creative.partner.name,
        "creative": creative.name,
        "version": version.version,
        "status": version.status,
        "content_hash": version.content_hash,
        "submitted_at": version.submitted_at.isoformat(),
        "decided_at": version.decided_at.isoformat() if version.decided_at else None,
        "decided_by": version.decided_by,
        "reason": version.reason,
    }


_as_option = click.option(
    "--as",
    "actor",
    metavar="NAME",
    default=None,
    help="Your personal account name (or DISPATCH_ACTOR); recorded as decided_by.",
)


@group.command("submit")
@click.argument("partner")
@click.argument("path", type=_BUNDLE)
@json_option
@pass_app
def submit(app: AppContext, partner: str, path: Path, as_json: bool) -> None:
    """Validate the bundle at PATH (folder or .zip) and store it for PARTNER.

    Every problem is listed as FILE:LINE: REASON and nothing is stored if there is
    any (exit 2). Submitting the same creative name again makes a new version.
    """
    try:
        with session_scope(app.engine()) as session:
            version = services.submit(session, partner, path)
            doc = _summary(version)
    except BundleRejected as exc:
        if as_json:
            emit_json({"ok": False, "problems": [p.as_dict() for p in exc.found]})
        raise
    if as_json:
        emit_json({"ok": True, **doc})
    else:
        click.echo(
            f"creative version {doc['id']}: {doc['partner']} / {doc['creative']} "
            f"version {doc['version']} submitted (sha256 {doc['content_hash']})"
        )


@group.command("list")
@click.option("--partner", default=None, help="Only this partner's creatives.")
@json_option
@pass_app
def list_(app: AppContext, partner: str | None, as_json: bool) -> None:
    """List creative versions with their status."""
    with session_scope(app.engine()) as session:
        docs = [_summary(v) for v in services.list_versions(session, partner)]
    if as_json:
        emit_json(docs)
        return
    if not docs:
        click.echo("no creatives")
    for d in docs:
        click.echo(f"{d['id']:>5}  {d['partner']} / {d['creative']} v{d['version']}  {d['status']}")


@group.command("show")
@click.argument("version_id", metavar="ID", type=ROW_ID)
@json_option
@pass_app
def show(app: AppContext, version_id: int, as_json: bool) -> None:
    """Show one creative version: status, hash, manifest and files (verifies the hash)."""
    with session_scope(app.engine()) as session:
        version = services.get_version(session, version_id)
        doc = _summary(version)
        services.verify_content(version)
        bundle = bundle_from_zip(version.bundle)
        doc["manifest"] = version.manifest
        doc["files"] = [{"path": p, "size": len(bundle.files[p])} for p in sorted(bundle.files)]
        doc["size"] = bundle.size
    if as_json:
        emit_json(doc)
        return
    click.echo(
        f"creative version {doc['id']}: {doc['partner']} / {doc['creative']} v{doc['version']}"
    )
    click.echo(f"status:   {doc['status']}")
    if doc["decided_by"]:
        click.echo(f"decided:  {doc['decided_at']} by {doc['decided_by']}")
    if doc["reason"]:
        click.echo(f"reason:   {doc['reason']}")
    click.echo(f"sha256:   {doc['content_hash']} (verified)")
    click.echo(f"channels: {', '.join(doc['manifest']['channels'])}")
    for lang in ("fi", "sv"):
        subject = doc["manifest"][lang]["subject"]
        if subject:
            click.echo(f"subject ({lang}): {subject}")
    click.echo(f"files ({doc['size']} bytes):")
    for f in doc["files"]:
        click.echo(f"  {f['size']:>9}  {f['path']}")


@group.command("preview")
@click.argument("version_id", metavar="ID", type=ROW_ID)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the preview files into (created if missing).",
)
@json_option
@pass_app
def preview(app: AppContext, version_id: int, out_dir: Path, as_json: bool) -> None:
    """Render version ID for synthetic recipients, in Finnish and Swedish.

    Letters as PDF and PNG pages, e-mails as .eml and .html, through the same
    sandbox, layout and engine as a campaign, but never for a real member. Any
    version can be previewed, so staff can look before approving.
    """
    with session_scope(app.engine()) as session:
        version = services.get_version(session, version_id)
        bundle = services.load_version_bundle(version)
        label = f"{version.id}"
    written = write_preview(bundle, out_dir, settings=app.settings, label=label)
    if as_json:
        emit_json(
            {
                "id": version_id,
                "out": str(out_dir),
                "files": [
                    {"path": str(f.path), "kind": f.kind, "language": f.language} for f in written
                ],
            }
        )
        return
    click.echo(f"preview of creative version {version_id} in {out_dir}/:")
    for f in written:
        click.echo(f"  {f.kind:<11} {f.language}  {f.path.name}")


@group.command("approve")
@click.argument("version_id", metavar="ID", type=ROW_ID)
@_as_option
@json_option
@pass_app
def approve(app: AppContext, version_id: int, actor: str | None, as_json: bool) -> None:
    """Approve submitted creative version ID (staff; the content is verified first)."""
    who = app.actor(actor, why="approving or rejecting is a staff decision")
    with session_scope(app.engine()) as session:
        doc = _summary(services.approve(session, version_id, who, four_eyes=app.settings.four_eyes))
    if as_json:
        emit_json(doc)
    else:
        click.echo(f"creative version {version_id} approved by {who}")


@group.command("reject")
@click.argument("version_id", metavar="ID", type=ROW_ID)
@click.option("--reason", required=True, help="Why (the partner sees this).")
@_as_option
@json_option
@pass_app
def reject(app: AppContext, version_id: int, reason: str, actor: str | None, as_json: bool) -> None:
    """Reject submitted creative version ID with a reason (staff)."""
    who = app.actor(actor, why="approving or rejecting is a staff decision")
    with session_scope(app.engine()) as session:
        doc = _summary(
            services.reject(session, version_id, who, reason, four_eyes=app.settings.four_eyes)
        )
    if as_json:
        emit_json(doc)
    else:
        click.echo(f"creative version {version_id} rejected by {who}")
