"""`stockmind models list|activate|retire`: which models each tenant holds, and switching between them.

Each change is one transaction in the store (`store/tenant_models.py`): refused with a one-line reason
(exit code 2) and nothing changed, or done.
"""

from __future__ import annotations

import argparse

from stockmind.config import Settings


def register(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser("models", help="the models each tenant holds; activate or retire one")
    actions = models.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="per tenant and model: vectors, objects, coverage, index, active")
    listing.add_argument("--client", help="one tenant only")
    listing.set_defaults(run=_list)

    activate = actions.add_parser("activate", help="switch a tenant's searches to a model (atomic)")
    activate.add_argument("model")
    activate.add_argument("--client", required=True)
    activate.add_argument("--force", action="store_true",
                          help="switch even if the model covers less than the tenant's live media or its"
                          " index is not built yet")
    activate.set_defaults(run=_activate)

    retire = actions.add_parser("retire", help="drop a model's vectors and index (refused for an active model)")
    retire.add_argument("model")
    retire.add_argument("--client", help="one tenant (default: every tenant that holds it)")
    retire.set_defaults(run=_retire)


def _list(args: argparse.Namespace) -> int:
    from stockmind.store import tenant_models

    with _connect() as conn:
        rows = tenant_models(conn, args.client)
    if not rows:
        print("no tenant holds any model" if args.client is None else f"tenant {args.client!r} holds no model")
        return 0
    header = ("client", "model", "dim", "vectors", "objects", "coverage", "index", "active")
    table = [header] + [(m.client_id, m.model_id, str(m.dim), str(m.vectors), f"{m.objects}/{m.live_media}",
                         f"{m.coverage:.1%}", m.index_state, "yes" if m.active else "")
                        for m in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _activate(args: argparse.Namespace) -> int:
    from stockmind.store import activate_model

    with _connect() as conn:
        model = activate_model(conn, args.client, args.model, force=args.force)
    print(f"tenant {model.client_id!r} now searches with {model.model_id!r}"
          f" ({model.objects} of {model.live_media} live media, index {model.index_state})")
    return 0


def _retire(args: argparse.Namespace) -> int:
    from stockmind.errors import ModelChangeRefused
    from stockmind.store import retire_model, tenant_models

    with _connect() as conn:
        held = [m.client_id for m in tenant_models(conn) if m.model_id == args.model]
        clients = [args.client] if args.client else held
        if not clients:
            raise ModelChangeRefused(f"cannot retire {args.model!r}: no tenant holds it")
        # Every tenant is checked before any is changed, so a refusal leaves all of them as they were.
        active = [m.client_id for c in clients for m in tenant_models(conn, c) if m.model_id == args.model and m.active]
        if active:
            raise ModelChangeRefused(f"cannot retire {args.model!r}: it is the active model of {', '.join(active)}"
                                     " (activate another model there first)")
        for client_id in clients:
            removed = retire_model(conn, client_id, args.model)
            print(f"tenant {client_id!r}: retired {args.model!r} ({removed} vectors dropped)")
    return 0


def _connect():
    from stockmind.store import connect

    settings = Settings.from_env(require=["DATABASE_URL"])
    return connect(settings.database_url)
