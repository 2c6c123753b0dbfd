"""The compiler of answers PostgreSQL writes (answers.py): a plan's fields to one statement.

Each object is a `json_build_object`, each list a `json_agg`, each relation and each page a
`LEFT JOIN LATERAL`; cursors come from `ROW_NUMBER`; every object adds one to a count the
statement returns with the JSON. What depends on the request is a `_Slot`: a value (`?`) or
a `sql.GIVEN` part, bound by a function of the request (`answers._Run`).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from guichet.resolvers import sql
from guichet.resolvers.sql import ColumnRef, Computed, Found, One, Pages
from guichet.schema.execution.answer_leaves import (
    MISSING_SQL,
    TEXT_LEAVES,
    Unsupported,
    columns_of,
    encoded,
    encoded_tokens,
    json_literal,
    leaf,
    literal,
    node_type,
    quoted,
)

if TYPE_CHECKING:
    from guichet.schema.execution.planner import FieldPlan, ObjectPlan, Plan, Shape


@dataclasses.dataclass(slots=True)
class _Slot:
    """A value (`?`) or a GIVEN part of the statement, bound per request."""

    given: bool
    bind: Any


class _Columns:
    """A row of a table under an alias, as a key function sees it: attributes are columns."""

    def __init__(self, alias: str, columns: dict[str, tuple[str, Any]]) -> None:
        self._alias, self._columns = alias, columns

    def __getattr__(self, attribute: str) -> ColumnRef:
        found = self._columns.get(attribute)
        if found is None or found[1] is not None:
            raise Unsupported(f"the key reads {attribute}")
        return ColumnRef(f"{self._alias}.{found[0]}")


class Compiler:
    def __init__(self, schema: Any, plan: Plan) -> None:
        self.schema, self.plan = schema, plan
        self.aliases = 0
        self.roles: set = set()

    def alias(self) -> str:
        self.aliases += 1
        return f"q{self.aliases}"

    def compile(self) -> tuple[sql.Statement, list, set]:
        """The statement, what binds each of its parts per request, the roles it needs."""
        pairs, laterals, counts = [], [], []
        for f in self.plan.root.fields:
            if f.kind == "typename":
                pairs.append((f.key, [json_literal(self.plan.root.type.name)]))
                continue
            self.requirement(f)
            source = self.source(
                f.definition.base_resolver.wrapped_func if f.kind == "resolve" else None
            )
            if isinstance(source, Pages):
                value, lateral, count = self.connection(
                    f, source, lambda run, f=f: run.arguments(f)
                )
            elif isinstance(source, Found):
                value, lateral, count = self.found(f, source)
            else:
                raise Unsupported(f"root field {f.name}")
            pairs.append((f.key, self.required(f.shape, value)))
            laterals.append(lateral)
            counts.append(count)
        tokens = [
            "SELECT ", *self.object_sql(pairs), "::text AS data, (0",
            *[t for c in counts for t in (" + ", *c)], ")::bigint AS objects FROM (SELECT 1) root_",
            *[t for lateral in laterals for t in lateral],
        ]  # fmt: skip
        return self.finish(tokens)

    def finish(self, tokens: list) -> tuple[sql.Statement, list, set]:
        parts: list = []
        binders: list = []
        text: list[str] = []
        for token in tokens:
            if isinstance(token, str):
                text.append(token)
            elif token.given:
                parts += ["".join(text), sql.GIVEN]
                text = []
                binders.append(token.bind)
            else:
                text.append("?")
                binders.append(token.bind)
        parts.append("".join(text))
        return sql.statement(*[p for p in parts if p != ""]), binders, self.roles

    # ------------------------------------------------------------ parts

    @staticmethod
    def source(function: Any) -> Any:
        return getattr(function, "in_sql", None)

    def requirement(self, f: FieldPlan) -> None:
        if f.requires is not None:
            self.roles.add(f.requires.role)

    @staticmethod
    def object_sql(pairs: list) -> list:
        out: list = ["json_build_object("]
        for i, (key, value) in enumerate(pairs):
            out += [", " if i else "", literal(key), ", ", *value]
        return [*out, ")"]

    @staticmethod
    def required(shape: Shape, value: list) -> list:
        return ["COALESCE(", *value, f", {MISSING_SQL})"] if shape.nonnull else value

    def fields(self, obj: ObjectPlan, table: sql.Table, alias: str):
        """An object's fields read from a row of `table` under `alias`: (key, value)
        pairs, the laterals they need, and the objects they add (SQL counts)."""
        columns = columns_of(table)
        pairs, laterals, counts = [], [], []
        for f in obj.fields:
            self.requirement(f)
            if f.kind == "typename":
                pairs.append((f.key, [json_literal(obj.type.name)]))
            elif f.kind == "attr":
                pairs.append((f.key, self.required(f.shape, [self.attribute(f, table, alias)])))
            elif f.kind == "related":
                value, lateral, count = self.one(f, self.source(f.batch), columns, alias)
                pairs.append((f.key, self.required(f.shape, value)))
                laterals.append(lateral)
                counts.append(count)
            elif f.kind == "keyed":
                source = self.source(f.batch)
                row = _Columns(alias, columns)
                given = lambda run, f=f, row=row: f.key_of(row, **run.arguments(f))  # noqa: E731
                if isinstance(source, Computed):
                    pairs.append((f.key, self.required(f.shape, self.computed(f, source, given))))
                elif isinstance(source, Pages):
                    value, lateral, count = self.connection(f, source, given)
                    pairs.append((f.key, self.required(f.shape, value)))
                    laterals.append(lateral)
                    counts.append(count)
                else:
                    raise Unsupported(f"{obj.type.name}.{f.name}")
            else:
                raise Unsupported(f"{obj.type.name}.{f.name} ({f.kind})")
        return pairs, laterals, counts

    def attribute(self, f: FieldPlan, table: sql.Table, alias: str) -> str:
        shape = f.shape
        if shape.kind != "leaf":
            raise Unsupported(f"{f.name}: not a leaf")
        if f.attr == "id" and shape.type.name == "ID":
            name = node_type(table.type)
            if name is None:
                raise Unsupported(f"the id of {table.type.__name__}")
            return f"to_json({encoded(name, f'{alias}.id')})"
        found = columns_of(table).get(f.attr)
        if found is None:
            raise Unsupported(f"{table.type.__name__}.{f.attr} is not a column")
        return leaf(f"{alias}.{found[0]}", found[1], shape.type)

    def computed(self, f: FieldPlan, source: Computed, given: Any) -> list:
        if f.shape.kind != "leaf" or f.shape.type.name not in (*TEXT_LEAVES, "Int", "Boolean"):
            raise Unsupported(f"{f.name}: a computed {f.shape.type}")
        cast = "::text" if f.shape.type.name in TEXT_LEAVES else ""
        bind = lambda run: source.expression(run.viewer, given(run))  # noqa: E731
        return ["to_json((", _Slot(True, bind), f"){cast})"]

    def one(self, f: FieldPlan, source: Any, columns: dict, alias: str):
        if not isinstance(source, One) or f.shape.kind != "object":
            raise Unsupported(f"{f.name}: related {f.shape.kind}")
        key = columns.get(f.attr)
        if key is None or key[1] is not None:
            raise Unsupported(f"{f.name}: its key is not a column")
        row = self.alias()
        visible = source.visible
        condition = [f"{row}.{source.column} = {alias}.{key[0]}"]
        if visible is not None:
            condition += [
                " AND ",
                _Slot(True, lambda run: "TRUE" if visible(run.viewer) else "FALSE"),
            ]
        return self.row_object(f, source.table, row, condition)

    def found(self, f: FieldPlan, source: Found):
        """A root field's one row (or null): `(value, lateral, count)`."""
        if f.shape.kind != "object":
            raise Unsupported(f"{f.name}: a {f.shape.kind}")
        row = source.alias or self.alias()

        def condition(run: Any) -> Any:
            found = source.condition(run.viewer, run.arguments(f), row)
            if found is None:
                raise Unsupported("the field's row is answered in Python")
            return found

        return self.row_object(f, source.table, row, [_Slot(True, condition)])

    def row_object(self, f: FieldPlan, table: sql.Table, row: str, condition: list):
        """The object of at most one row of `table` (under `row`) the condition picks."""
        name = self.alias()
        pairs, laterals, counts = self.fields(f.shape.object, table, row)
        lateral = [
            " LEFT JOIN LATERAL (SELECT ", *self.object_sql(pairs), " AS j, (1",
            *[t for c in counts for t in (" + ", *c)],
            f") AS n FROM {quoted(table.name)} {row}", *[t for lat in laterals for t in lat],
            " WHERE ", *condition, f") {name} ON TRUE",
        ]  # fmt: skip
        return [f"{name}.j"], lateral, [f"COALESCE({name}.n, 0)"]

    def connection(self, f: FieldPlan, source: Pages, given: Any):
        """A page of rows as a connection: `(value, lateral, count)`."""
        shape = f.shape
        if shape.kind != "object" or not shape.type.name.endswith("Connection"):
            raise Unsupported(f"{f.name}: pages of a {shape.type}")
        table, row, name = source.table, source.alias or self.alias(), self.alias()

        def page(run: Any) -> sql.Page:
            return run.page(f, source, given, row)

        condition = _Slot(True, lambda run: page(run).condition)
        order = _Slot(True, lambda run: page(run).order)

        def offset() -> list:
            return ["(", _Slot(False, lambda run: page(run).offset), "::bigint)"]

        total = [f"(SELECT COUNT(*) FROM {quoted(table.name)} {row} WHERE ", condition, ")"]
        size = [f"COUNT({row}.pos_)"]

        pairs, laterals, counts = [], [], [["1"]]
        for cf in shape.object.fields:
            self.requirement(cf)
            if cf.kind == "typename":
                pairs.append((cf.key, [json_literal(shape.object.type.name)]))
            elif cf.name == "totalCount":
                pairs.append((cf.key, ["to_json(", *total, ")"]))
            elif cf.name == "pageInfo":
                info = []
                for pf in cf.shape.object.fields:
                    if pf.kind == "typename":
                        value = [json_literal(cf.shape.object.type.name)]
                    elif pf.name == "hasNextPage":
                        value = ["to_json(", *offset(), " + ", *size, " < ", *total, ")"]
                    elif pf.name == "hasPreviousPage":
                        value = ["to_json(", *offset(), " > 0)"]
                    elif pf.name in ("startCursor", "endCursor"):
                        at = ["1"] if pf.name == "startCursor" else size
                        value = [
                            f"to_json(CASE WHEN {size[0]} > 0 THEN ",
                            *encoded_tokens("cursor", [*offset(), " + ", *at]), " END)",
                        ]  # fmt: skip
                    else:
                        raise Unsupported(f"PageInfo.{pf.name}")
                    info.append((pf.key, value))
                pairs.append((cf.key, self.object_sql(info)))
                counts.append(["1"])
            elif cf.name == "edges":
                edge_pairs, per_edge = [], ["1"]
                for ef in cf.shape.item.object.fields:
                    if ef.kind == "typename":
                        edge_pairs.append((ef.key, [json_literal(cf.shape.item.object.type.name)]))
                    elif ef.name == "cursor":
                        edge_pairs.append(
                            (
                                ef.key,
                                [
                                    "to_json(",
                                    *encoded_tokens("cursor", [*offset(), f" + {row}.pos_"]),
                                    ")",
                                ],
                            )
                        )
                    elif ef.name == "node" and ef.shape.kind == "object":
                        self.requirement(ef)
                        node, node_laterals, node_counts = self.fields(ef.shape.object, table, row)
                        edge_pairs.append((ef.key, self.object_sql(node)))
                        laterals += node_laterals
                        per_edge.append("1")
                        counts += [["COALESCE(SUM(", *c, "), 0)"] for c in node_counts]
                    else:
                        raise Unsupported(f"Edge.{ef.name}")
                built = self.object_sql(edge_pairs)
                pairs.append((cf.key, [
                    "COALESCE(json_agg(", *built, f" ORDER BY {row}.pos_), '[]'::json)",
                ]))  # fmt: skip
                counts.append([f"{size[0]} * {len(per_edge)}"])
            else:
                raise Unsupported(f"connection field {cf.name}")
        rows = [
            f"(SELECT {row}.*, ROW_NUMBER() OVER (ORDER BY ", order, f") AS pos_ FROM (SELECT {row}.*"
            f" FROM {quoted(table.name)} {row} WHERE ", condition, " ORDER BY ", order,
            " LIMIT ", _Slot(False, lambda run: page(run).limit), " OFFSET ",
            _Slot(False, lambda run: page(run).offset), f") {row}) {row}",
        ]  # fmt: skip
        lateral = [
            " LEFT JOIN LATERAL (SELECT ", *self.object_sql(pairs), " AS j, (",
            *[t for i, c in enumerate(counts) for t in ((" + " if i else ""), *c)],
            ") AS n FROM ", *rows, *[t for lat in laterals for t in lat], f") {name} ON TRUE",
        ]  # fmt: skip
        return [f"{name}.j"], lateral, [f"COALESCE({name}.n, 0)"]
