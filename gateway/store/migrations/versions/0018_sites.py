"""Records belong to a site: customers, orders, students, users, API tokens and machine groups; user_sites.

Existing rows go to the gateway's own site, found in this order:

1. the ``site`` attribute of the Alembic configuration, which ``gateway.store.db.upgrade(site=...)`` sets from
   the gateway's configuration when ``gateway.site`` names one site (``GatewaySection.only_site``);
2. else the only site that has machines;
3. else, with several sites or none, the first site in alphabetical order that has machines, or
   ``sites_repo.DEFAULT_SITE`` ("school") on an empty store.

Masters that existed before saw every site: each keeps every site known (machines, calendars) in ``user_sites``,
so that nobody loses sight of what they managed; a master of a central gateway then trims them on the desk.

Customer and machine-group names become unique per site (two schools may both have a client "Acme" or a group
"Tournage CN"); a badge stays unique everywhere (it must name one person at any kiosk) and so does a username
(one login namespace). On SQLite the two tables whose unique constraint changes are rebuilt in place: their
rows are copied aside, the table dropped and created anew, the rows put back, with foreign keys deferred to
the commit (other tables point at them: orders at customers, members and authorisations at groups).

Revision ID: 0018_sites
Revises: 0017_evidence
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.sql.schema import SchemaItem

revision = "0018_sites"
down_revision = "0017_evidence"
branch_labels = None
depends_on = None

ID_LENGTH = 63
DEFAULT_SITE = "school"  # the same as gateway.store.sites_repo.DEFAULT_SITE; a migration imports no live code
ADDED = ("orders", "students", "users", "api_tokens")  # a site column, nothing else changes
REBUILT = ("customers", "machine_groups")  # a site column, and the unique name becomes unique per site


def _home_site() -> str:
    configured = context.config.attributes.get("site")
    if configured:
        return str(configured)
    sites = [row[0] for row in op.get_bind().execute(sa.text("SELECT DISTINCT site FROM machines ORDER BY site"))]
    return sites[0] if sites else DEFAULT_SITE


def _customers(*, per_site: bool) -> sa.Table:
    columns: list[SchemaItem] = [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
    ]
    if per_site:
        columns += [
            sa.Column("site", sa.String(ID_LENGTH), nullable=False),
            sa.UniqueConstraint("site", "name", name="uq_customers_site_name"),
        ]
    else:
        columns.append(sa.UniqueConstraint("name", name="uq_customers_name"))
    return sa.Table("customers", sa.MetaData(), *columns)


def _machine_groups(*, per_site: bool) -> sa.Table:
    columns: list[SchemaItem] = [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("regulated", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_machine_groups"),
    ]
    if per_site:
        columns += [
            sa.Column("site", sa.String(ID_LENGTH), nullable=False),
            sa.UniqueConstraint("site", "name", name="uq_machine_groups_site_name"),
        ]
    else:
        columns.append(sa.UniqueConstraint("name", name="uq_machine_groups_name"))
    return sa.Table("machine_groups", sa.MetaData(), *columns)


TABLES = {"customers": _customers, "machine_groups": _machine_groups}
OLD_UNIQUE = {"customers": "uq_customers_name", "machine_groups": "uq_machine_groups_name"}


def _rebuild_sqlite(table: sa.Table, *, site: str | None) -> None:
    """Drop and create ``table`` anew with its rows (SQLite alters no constraint in place).

    Alembic's batch mode renames a copy over the old table, which leaves the rows of other tables pointing
    at a dropped table and fails the foreign keys; putting the rows back into the new table satisfies them.
    """
    bind = op.get_bind()
    name = table.name
    kept = [c.name for c in table.columns if c.name != "site"]
    listed = ", ".join(kept)
    bind.execute(sa.text("PRAGMA defer_foreign_keys=ON"))  # until the commit; SQLite resets it there
    bind.execute(sa.text(f"CREATE TEMP TABLE _sites_copy AS SELECT {listed} FROM {name}"))
    bind.execute(sa.text(f"DROP TABLE {name}"))
    table.create(bind)
    if site is None:
        bind.execute(sa.text(f"INSERT INTO {name} ({listed}) SELECT {listed} FROM _sites_copy"))
    else:
        bind.execute(
            sa.text(f"INSERT INTO {name} ({listed}, site) SELECT {listed}, :site FROM _sites_copy"), {"site": site}
        )
    bind.execute(sa.text("DROP TABLE _sites_copy"))


def _add_site(table: str, site: str) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # A NOT NULL column needs a default for the rows already there; SQLite keeps it (it alters no column),
    # PostgreSQL drops it at once: new rows always name their site.
    op.add_column(table, sa.Column("site", sa.String(ID_LENGTH), nullable=False, server_default=site))
    if not sqlite:
        op.alter_column(table, "site", server_default=None, existing_type=sa.String(ID_LENGTH))


def upgrade() -> None:
    site = _home_site()
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in ADDED:
        _add_site(table, site)
    for name in REBUILT:
        if sqlite:
            _rebuild_sqlite(TABLES[name](per_site=True), site=site)
        else:
            _add_site(name, site)
            op.drop_constraint(OLD_UNIQUE[name], name, type_="unique")
            op.create_unique_constraint(f"uq_{name}_site_name", name, ["site", "name"])
    for table in (*ADDED, *REBUILT):
        op.create_index(f"ix_{table}_site", table, ["site"])
    op.create_table(
        "user_sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(ID_LENGTH), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_user_sites_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_user_sites"),
        sa.UniqueConstraint("user_id", "site", name="uq_user_sites_user_id_site"),
    )
    op.create_index("ix_user_sites_user_id", "user_sites", ["user_id"])
    # Masters and viewers saw every site until now: they keep every site the store knows.
    op.execute(
        "INSERT INTO user_sites (user_id, site) SELECT users.id, known.site FROM users CROSS JOIN "
        "(SELECT site FROM machines UNION SELECT site FROM site_calendars) AS known "
        "WHERE users.role IN ('admin', 'viewer') AND known.site <> users.site"
    )
    # A student's login belongs to their student's site (the same, the home site, for rows that existed).


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_index("ix_user_sites_user_id", table_name="user_sites")
    op.drop_table("user_sites")
    for table in (*ADDED, *REBUILT):
        op.drop_index(f"ix_{table}_site", table_name=table)
    for name in REBUILT:
        # Names unique per site must be unique everywhere again: a second "Acme" gets its id appended.
        op.execute(
            f"UPDATE {name} SET name = name || ' #' || CAST(id AS VARCHAR(20)) WHERE id NOT IN "
            f"(SELECT min_id FROM (SELECT MIN(id) AS min_id FROM {name} GROUP BY name) AS firsts)"
        )
        if sqlite:
            _rebuild_sqlite(TABLES[name](per_site=False), site=None)
        else:
            op.drop_constraint(f"uq_{name}_site_name", name, type_="unique")
            op.create_unique_constraint(OLD_UNIQUE[name], name, ["name"])
            op.drop_column(name, "site")
    for table in ADDED:
        op.drop_column(table, "site")
